import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { protocolAllows, type ReasonCode } from '../../../membership/index.ts'
import type { FederationNode } from '../../federation-node.ts'
import { formatHostPort, type HostPort } from '../config-values.ts'
import { DaemonStartError, describeErrno } from '../errors.ts'
import { describeForwardPeer, type ForwardConfig } from './config.ts'
import { MAX_TUNNELS_PER_CONNECTION, TARGET_CONNECT_TIMEOUT_MS } from './expose.ts'
import { readTunnelVerdict, tunnelProtocol } from './protocol.ts'
import type { Route, Routes } from './route.ts'
import { bridge } from './bridge.ts'
import type { Tunnels } from './tunnels.ts'

/** Finding or dialling the member, opening the stream and hearing the verdict must fit in this. */
export const TUNNEL_OPEN_TIMEOUT_MS = TARGET_CONNECT_TIMEOUT_MS + 10_000

export interface ForwardListenerInit {
  readonly node: FederationNode
  readonly tunnels: Tunnels
  readonly routes: Routes
  readonly config: ForwardConfig
}

/**
 * One forward: a local TCP listener whose every connection becomes a tunnel to the member's exposed
 * service, over an admitted connection. A connection that cannot be carried (unknown member, no
 * reachable node, a protocol the roster does not allow this node's roles, a target the member cannot
 * reach, …) is logged with its reason code and reset at once: the client never hangs.
 */
export class ForwardListener {
  readonly protocol: string
  private readonly init: ForwardListenerInit
  private readonly server: Server
  private bound: HostPort | undefined

  constructor (init: ForwardListenerInit) {
    this.init = init
    this.protocol = tunnelProtocol(init.config.name)
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, socket => { void this.accept(socket) })
  }

  get config (): ForwardConfig {
    return this.init.config
  }

  /** The address it listens on (the port picked, for port 0). */
  get address (): HostPort {
    return this.bound ?? this.init.config.listen
  }

  /** Binds the listen address; a DaemonStartError names it when it is in use or not local. */
  async listen (): Promise<void> {
    const { listen, name } = this.init.config
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new DaemonStartError(`forward ${name} ${formatHostPort(listen)}: cannot listen (${describeErrno(err.code ?? err.message)})`,
          'choose another port in the forward entry\'s "listen" (or --forward), or stop the process that holds it'))
      })
      this.server.listen(listen.port, listen.host, () => { resolve() })
    })
    const address = this.server.address() as AddressInfo
    this.bound = { host: listen.host, port: address.port }
  }

  /** Stops accepting connections; open tunnels are closed by their owner. */
  async close (): Promise<void> {
    if (!this.server.listening) return
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }

  private async accept (socket: Socket): Promise<void> {
    const { node, tunnels, config } = this.init
    const local = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
    // Until the tunnel is spliced, a client error only needs to end the attempt.
    socket.on('error', () => {})
    const refuse = (reason: ReasonCode, detail: string, route?: Route): void => {
      tunnels.refused({ service: config.name, side: 'forward', reason, local, memberId: route?.peer.memberId ?? ('member' in config.to ? config.to.member : undefined), peerId: route?.peer.peerId, detail })
      socket.resetAndDestroy()
    }
    const own = node.gate.ownVerdict()
    if (own !== null) {
      refuse(own, 'this node\'s own credential does not verify under its roster')
      return
    }
    if (!protocolAllows(node.roster.policy, this.protocol, node.localRoles)) {
      refuse('protocol-not-allowed', `the roster (epoch ${node.roster.epoch}) does not allow this node's roles (${node.localRoles.join(',')}) on ${this.protocol}`)
      return
    }
    const signal = AbortSignal.timeout(TUNNEL_OPEN_TIMEOUT_MS)
    const route = await this.init.routes.find(config.to, signal)
    if ('reason' in route) {
      refuse(route.reason, route.detail)
      return
    }
    let stream: Stream
    try {
      stream = await route.connection.newStream(this.protocol, { signal, maxOutboundStreams: MAX_TUNNELS_PER_CONNECTION })
    } catch (err) {
      const name = err instanceof Error ? err.name : ''
      const reason: ReasonCode = name === 'UnsupportedProtocolError' ? 'service-not-exposed' : name === 'TooManyOutboundProtocolStreamsError' ? 'tunnel-limit' : 'no-reachable-node'
      refuse(reason, `${describeForwardPeer(config.to)} (${route.peer.peerId}): ${err instanceof Error ? err.message : String(err)}`, route)
      return
    }
    const verdict = await readTunnelVerdict(stream, signal)
    if (verdict !== 'ok') {
      stream.abort(new Error(`fedgate: ${verdict ?? 'no verdict'}`))
      refuse(verdict ?? this.silentReason(route, signal), verdict === null ? 'the peer closed the stream without a verdict' : 'the peer refused the tunnel', route)
      return
    }
    if (socket.destroyed) {
      stream.abort(new Error('fedgate: the client left'))
      tunnels.refused({ service: config.name, side: 'forward', reason: 'tunnel-reset', local, memberId: route.peer.memberId, peerId: route.peer.peerId, detail: 'the local client closed before the tunnel opened' })
      return
    }
    const tunnel = tunnels.add({ service: config.name, side: 'forward', stream, connection: route.connection, peer: route.peer, local })
    tunnels.close(tunnel, await bridge(socket, stream, tunnel))
  }

  /**
   * Why a stream ended before its verdict. The peer's stream guard resets a stream whose protocol
   * its roster does not allow this node's roles, which is by far the likeliest cause while the
   * connection stays open.
   */
  private silentReason (route: Route, signal: AbortSignal): ReasonCode {
    if (route.connection.status !== 'open') return 'connection-closed'
    if (signal.aborted) return 'no-reachable-node'
    return 'protocol-not-allowed'
  }
}
