import { protocolAllows, type ReasonCode } from '../../../membership/index.ts'
import type { FederationNode } from '../../federation-node.ts'
import { internalsOf } from '../../gate/gate.ts'
import { formatHostPort } from '../config-values.ts'
import { describeForwardPeer, type ExposeConfig, type ForwardConfig, type TunnelMode } from './config.ts'
import { ExposedService } from './expose.ts'
import { ForwardListener } from './forward.ts'
import { Routes } from './route.ts'
import { Tunnels, type Tunnel, type TunnelStatus } from './tunnels.ts'

/** After a stop aborts the open tunnels, their close lines get this long to be written. */
const STOP_WAIT_MS = 2_000

/** The sidecar's part of `/status`. */
export interface SidecarStatus {
  expose: Array<{ name: string, protocol: string, target: string, mode: TunnelMode, proxyProtocol: boolean }>
  forward: Array<{ name: string, protocol: string, listen: string, to: string }>
  tunnels: TunnelStatus[]
}

export interface SidecarInit {
  readonly node: FederationNode
  readonly expose: readonly ExposeConfig[]
  readonly forward: readonly ForwardConfig[]
}

/**
 * fedgate as a sidecar: local TCP services carried between members over authenticated libp2p
 * streams. `expose` serves a local service to the members the roster allows on it; `forward`
 * listens locally and carries each connection to a member's exposed service. Tunnels live under
 * live enforcement: a revocation, expiry or withdrawn protocol closes them at once.
 */
export class Sidecar {
  readonly tunnels: Tunnels
  private readonly node: FederationNode
  private readonly services: ExposedService[]
  private readonly forwards: ForwardListener[]

  private constructor (init: SidecarInit) {
    this.node = init.node
    this.tunnels = new Tunnels({ log: init.node.log.child({ component: 'sidecar' }), metrics: init.node.metrics, resetReason: t => this.resetReason(t) })
    this.services = init.expose.map(config => new ExposedService({ node: init.node, tunnels: this.tunnels, config }))
    const routes = new Routes(init.node)
    this.forwards = init.forward.map(config => new ForwardListener({ node: init.node, tunnels: this.tunnels, routes, config }))
  }

  /** Serves the exposed services and binds the forward listeners; a listener that cannot bind stops the start (DaemonStartError). */
  static async start (init: SidecarInit): Promise<Sidecar> {
    const sidecar = new Sidecar(init)
    try {
      for (const service of sidecar.services) await service.start()
      for (const forward of sidecar.forwards) await forward.listen()
    } catch (err) {
      await sidecar.stop()
      throw err
    }
    return sidecar
  }

  /** Stops accepting, closes every open tunnel (`shutdown`) and waits briefly for their close lines. */
  async stop (): Promise<void> {
    await Promise.all(this.forwards.map(async f => { await f.close() }))
    await Promise.all(this.services.map(async s => { await s.stop() }))
    for (const tunnel of [...this.tunnels.all()]) tunnel.abort('shutdown')
    await this.tunnels.idle(STOP_WAIT_MS)
  }

  status (): SidecarStatus {
    return {
      expose: this.services.map(s => ({ name: s.config.name, protocol: s.protocol, target: formatHostPort(s.config.target), mode: s.config.mode, proxyProtocol: s.config.proxyProtocol })),
      forward: this.forwards.map(f => ({ name: f.config.name, protocol: f.protocol, listen: formatHostPort(f.address), to: describeForwardPeer(f.config.to) })),
      tunnels: this.tunnels.list()
    }
  }

  /**
   * Why a tunnel's stream was reset: the connection's close reason (a bye names it), else a
   * protocol the roster withdrew, else the other end. The exposing node decides live: its stream
   * guard resets the streams of a protocol its roster withdraws, and its peers close the
   * connections of a revoked or expired member; a forward learns of it from the reset, and names the
   * reason when its own roster already shows it.
   */
  private resetReason (tunnel: Tunnel): ReasonCode {
    const { connection, side } = tunnel.init
    const internals = internalsOf(this.node.gate)
    const closing = internals.admitted.get(connection)?.closing
    if (closing !== undefined) return closing.code
    if (connection.status !== 'open') return 'connection-closed'
    if (side === 'expose') return internals.guard.authorize(tunnel.protocol, connection) ?? 'tunnel-reset'
    return protocolAllows(this.node.roster.policy, tunnel.protocol, this.node.localRoles) ? 'tunnel-reset' : 'protocol-not-allowed'
  }
}
