import type { PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { refusalOf } from '../net/refusal.ts'
import type { FederationNode } from '../federation-node.ts'

/** First redial delay after a failed dial or a lost connection. */
export const REDIAL_MIN_MS = 1_000
/** Redial delays double up to this cap. */
export const REDIAL_MAX_MS = 30_000
/** A connection that lived this long resets the backoff: the peer was healthy. */
const STABLE_CONNECTION_MS = 60_000
/** Each delay is spread by up to ±this fraction, so a federation restarting together does not dial in lockstep. */
const JITTER = 0.2

export interface ReservedPeersInit {
  /** @default REDIAL_MIN_MS */
  minBackoffMs?: number
  /** @default REDIAL_MAX_MS */
  maxBackoffMs?: number
}

interface Reservation {
  readonly addr: Multiaddr
  peerId: string | undefined
  backoffMs: number
  connectedAt: number | undefined
  timer: NodeJS.Timeout | undefined
  dialing: boolean
}

/**
 * Keeps the operator's reserved peers (`dial` in the config) connected: dials each at start and,
 * whenever a dial fails or the peer disconnects, again after a delay that doubles from 1 s to 30 s.
 */
export class ReservedPeers {
  private readonly node: FederationNode
  private readonly reservations: Reservation[]
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number
  private stopped = false
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => { this.disconnected(evt.detail.toString()) }

  constructor (node: FederationNode, addrs: readonly string[], init: ReservedPeersInit = {}) {
    this.node = node
    this.minBackoffMs = init.minBackoffMs ?? REDIAL_MIN_MS
    this.maxBackoffMs = init.maxBackoffMs ?? REDIAL_MAX_MS
    this.reservations = addrs.map(a => ({ addr: multiaddr(a), peerId: multiaddr(a).getComponents().find(c => c.name === 'p2p')?.value, backoffMs: this.minBackoffMs, connectedAt: undefined, timer: undefined, dialing: false }))
  }

  start (): void {
    this.node.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const r of this.reservations) void this.dial(r)
  }

  stop (): void {
    this.stopped = true
    this.node.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const r of this.reservations) clearTimeout(r.timer)
  }

  private async dial (r: Reservation): Promise<void> {
    if (this.stopped || r.dialing) return
    r.dialing = true
    r.timer = undefined
    try {
      const connection = await this.node.dial(r.addr)
      r.peerId = connection.remotePeer.toString()
      r.connectedAt = Date.now()
      this.node.log.info({ event: 'reserved-dial', result: 'connected', addr: r.addr.toString(), peerId: r.peerId }, `reserved peer connected: ${r.addr.toString()}`)
      // The connection may already be gone again (closed before this continuation ran).
      if (this.node.libp2p.getConnections(connection.remotePeer).length === 0) {
        r.connectedAt = undefined
        this.schedule(r)
      }
    } catch (err) {
      const refusal = refusalOf(err)
      this.node.log.warn({ event: 'reserved-dial', result: 'failed', addr: r.addr.toString(), reason: refusal?.code, by: refusal?.by, err: refusal === undefined ? errorText(err) : undefined, retryMs: r.backoffMs }, `reserved peer dial failed: ${r.addr.toString()}`)
      this.schedule(r)
    } finally {
      r.dialing = false
    }
  }

  private disconnected (peerId: string): void {
    for (const r of this.reservations) {
      if (r.peerId !== peerId || r.connectedAt === undefined) continue
      if (Date.now() - r.connectedAt >= STABLE_CONNECTION_MS) r.backoffMs = this.minBackoffMs
      r.connectedAt = undefined
      this.schedule(r)
    }
  }

  private schedule (r: Reservation): void {
    if (this.stopped || r.timer !== undefined) return
    const delay = Math.round(r.backoffMs * (1 + JITTER * (2 * Math.random() - 1)))
    r.backoffMs = Math.min(r.backoffMs * 2, this.maxBackoffMs)
    r.timer = setTimeout(() => { void this.dial(r) }, delay)
    r.timer.unref()
  }
}

function errorText (err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return text.split('\n')[0] ?? text
}
