import type { Connection, Stream, StreamCloseEvent } from '@libp2p/interface'
import type { ReasonCode } from '../../../membership/index.ts'
import { logEvent } from '../../events.ts'
import type { Logger } from '../../log.ts'
import type { FedgateMetrics } from '../../metrics.ts'
import type { AdmittedPeer } from '../../types.ts'
import { StreamDuplex } from './stream-duplex.ts'

/** `expose`: a member's stream carried to the local target; `forward`: a local client carried to a member. */
export type TunnelSide = 'expose' | 'forward'

/** One open tunnel, as `/status` lists it. Times are ISO-8601 UTC. */
export interface TunnelStatus {
  id: number
  service: string
  side: TunnelSide
  memberId: string
  peerId: string
  roles: string[]
  /** The TCP end on this host: the client's address (forward) or the target's (expose). */
  local: string
  /** The peer node's address on the libp2p connection. */
  remoteAddr: string
  since: string
  /** Bytes sent to the peer over the stream, and received from it. */
  bytesSent: number
  bytesReceived: number
}

export interface TunnelInit {
  readonly service: string
  readonly side: TunnelSide
  readonly stream: Stream
  readonly connection: Connection
  readonly peer: AdmittedPeer
  readonly local: string
}

export interface TunnelsInit {
  readonly log: Logger
  readonly metrics: FedgateMetrics
  /** Why a tunnel's stream was reset or aborted: the connection's close reason, a withdrawn protocol, … */
  readonly resetReason: (tunnel: Tunnel) => ReasonCode
  /** @default Date.now */
  readonly clock?: () => number
}

/** A TCP connection carried over one libp2p stream. */
export class Tunnel {
  readonly id: number
  readonly init: TunnelInit
  readonly since: number
  bytesSent = 0
  bytesReceived = 0
  /** Set when this node closes the tunnel on purpose (shutdown, a withdrawn protocol). */
  abortedWith: ReasonCode | undefined
  /** Set when the stream was reset or aborted, with the reason as it happened. */
  resetWith: ReasonCode | undefined

  private readonly metrics: { sent: (n: number) => void, received: (n: number) => void }
  private asDuplex: StreamDuplex | undefined

  constructor (id: number, init: TunnelInit, since: number, metrics: { sent: (n: number) => void, received: (n: number) => void }) {
    this.id = id
    this.init = init
    this.since = since
    this.metrics = metrics
  }

  /** Counts bytes handed to the stream. */
  sent (bytes: number): void {
    this.bytesSent += bytes
    this.metrics.sent(bytes)
  }

  /** Counts bytes the stream delivered. */
  received (bytes: number): void {
    this.bytesReceived += bytes
    this.metrics.received(bytes)
  }

  /** The stream as a Node Duplex (HTTP mode), counting as it goes. */
  duplex (): StreamDuplex {
    this.asDuplex ??= new StreamDuplex(this.init.stream, { onSent: n => { this.sent(n) }, onReceived: n => { this.received(n) } })
    return this.asDuplex
  }

  get protocol (): string {
    return this.init.stream.protocol
  }

  /** Closes the tunnel now with `code`: the stream is aborted, and the TCP end reset. */
  abort (code: ReasonCode): void {
    this.abortedWith ??= code
    this.init.stream.abort(new Error(`fedgate: ${code}`))
  }
}

/**
 * The open tunnels of a node: each open and close is one audit line (member id, service, bytes
 * each way, reason code), counted in the tunnel metrics, and listed by `/status` while open.
 */
export class Tunnels {
  private readonly init: TunnelsInit
  private readonly clock: () => number
  private readonly open = new Map<number, Tunnel>()
  private nextId = 1
  private readonly idleWaiters: Array<() => void> = []

  constructor (init: TunnelsInit) {
    this.init = init
    this.clock = init.clock ?? Date.now
  }

  /** Registers a tunnel whose stream is open and whose TCP end is connected; logs `tunnel-open`. */
  add (init: TunnelInit): Tunnel {
    const { metrics, log } = this.init
    const labels = { service: init.service, side: init.side }
    const sent = metrics.tunnelBytes.labels({ ...labels, direction: 'sent' })
    const received = metrics.tunnelBytes.labels({ ...labels, direction: 'received' })
    const tunnel = new Tunnel(this.nextId++, init, this.clock(), { sent: n => { sent.inc(n) }, received: n => { received.inc(n) } })
    init.stream.addEventListener('close', (evt: StreamCloseEvent) => {
      if (evt.error !== undefined) tunnel.resetWith ??= tunnel.abortedWith ?? this.init.resetReason(tunnel)
    })
    this.open.set(tunnel.id, tunnel)
    metrics.tunnels.inc(labels)
    metrics.tunnelsOpen.inc(labels)
    logEvent(log, 'info', 'tunnel-open', { ...this.fields(tunnel), protocol: init.stream.protocol }, `tunnel ${tunnel.id} open: ${init.service} ${init.side === 'expose' ? 'from' : 'to'} ${init.peer.memberId}`)
    return tunnel
  }

  /**
   * Logs `tunnel-close` once both ends closed. The reason: why this node aborted it, else why its
   * stream was reset, else `tunnel-reset` when a TCP end failed, else `ok`.
   */
  close (tunnel: Tunnel, error: Error | undefined): void {
    if (!this.open.delete(tunnel.id)) return
    if (this.open.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    const { metrics, log } = this.init
    const reason = tunnel.abortedWith ?? tunnel.resetWith ?? (error === undefined ? 'ok' : 'tunnel-reset')
    const labels = { service: tunnel.init.service, side: tunnel.init.side }
    metrics.tunnelsOpen.dec(labels)
    metrics.tunnelCloses.inc({ ...labels, reason })
    logEvent(log, 'info', 'tunnel-close', {
      ...this.fields(tunnel),
      reason,
      bytesSent: tunnel.bytesSent,
      bytesReceived: tunnel.bytesReceived,
      durationMs: this.clock() - tunnel.since,
      ...(error === undefined || reason !== 'tunnel-reset' ? {} : { detail: error.message })
    }, `tunnel ${tunnel.id} closed: ${reason}`)
  }

  /** Logs `tunnel-refused` for a tunnel that could not open. */
  refused (refusal: { service: string, side: TunnelSide, reason: ReasonCode, local: string, memberId?: string, peerId?: string, detail?: string }): void {
    const { reason, service, ...fields } = refusal
    this.init.metrics.tunnelRefusals.inc({ service, side: refusal.side, reason })
    logEvent(this.init.log, 'warn', 'tunnel-refused', { reason, serviceName: service, ...fields }, `tunnel refused: ${service}: ${reason}`)
  }

  /** Logs `tunnel-request-failed`: in HTTP mode, one request that could not reach the target. */
  requestFailed (failure: { service: string, reason: ReasonCode, detail: string, local: string, tunnel?: number, memberId?: string }): void {
    const { reason, service, ...fields } = failure
    logEvent(this.init.log, 'warn', 'tunnel-request-failed', { reason, serviceName: service, side: 'expose', ...fields }, `request through tunnel failed: ${service}: ${reason}`)
  }

  /** Resolves once no tunnel is open, or after `timeoutMs`. */
  async idle (timeoutMs: number): Promise<void> {
    if (this.open.size === 0) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, timeoutMs)
      this.idleWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /** The open tunnels, oldest first. */
  all (): IterableIterator<Tunnel> {
    return this.open.values()
  }

  list (): TunnelStatus[] {
    return [...this.open.values()].map(t => ({
      id: t.id,
      service: t.init.service,
      side: t.init.side,
      memberId: t.init.peer.memberId,
      peerId: t.init.peer.peerId,
      roles: [...t.init.peer.roles],
      local: t.init.local,
      remoteAddr: t.init.connection.remoteAddr.toString(),
      since: new Date(t.since).toISOString(),
      bytesSent: t.bytesSent,
      bytesReceived: t.bytesReceived
    }))
  }

  private fields (tunnel: Tunnel): Record<string, unknown> {
    const { service, side, peer, local } = tunnel.init
    // `serviceName`: the log's own `service` field names the program (fedgate).
    return { tunnel: tunnel.id, serviceName: service, side, memberId: peer.memberId, peerId: peer.peerId, roles: peer.roles, local }
  }
}
