import type { PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Roster } from '../../membership/index.ts'
import { refusalOf } from '../net/refusal.ts'
import type { FederationNode } from '../federation-node.ts'
import { DaemonStartError } from './errors.ts'

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

/** A reserved peer: an address pinned to a PeerId (its /p2p/ part) or to the roster member that lists it. */
export interface ReservedAddress {
  readonly addr: string
  readonly memberId?: string
}

/**
 * Resolves the config's `dial` addresses against the roster. An address with /p2p/ is pinned to that
 * PeerId; one without must be an address the roster lists for a member, and is pinned to that
 * member: whoever answers there as another member is not kept. Any other address is refused, since
 * it would admit whichever member happens to answer there.
 */
export function reservedPeers (addrs: readonly string[], roster: Roster): ReservedAddress[] {
  return addrs.map(addr => {
    if (multiaddr(addr).getComponents().some(c => c.name === 'p2p')) return { addr }
    const listed = [...roster.members.values()].filter(m => m.addrs?.some(a => withoutPeerId(a) === addr) === true)
    const [member] = listed
    if (member === undefined || listed.length > 1) {
      throw new DaemonStartError(`dial ${addr}: ${listed.length > 1 ? `several roster members list this address (${listed.map(m => m.id).join(', ')})` : 'no /p2p/ PeerId and no roster member lists this address'}, so it is not pinned to a member`,
        'add /p2p/<PeerId> to the address, or list it for its member (fedgate roster update-member --addr) in a signed epoch')
    }
    return { addr, memberId: member.id }
  })
}

function withoutPeerId (addr: string): string {
  return addr.replace(/\/p2p\/[^/]+$/, '')
}

interface Reservation {
  readonly addr: Multiaddr
  readonly memberId: string | undefined
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

  constructor (node: FederationNode, addrs: readonly ReservedAddress[], init: ReservedPeersInit = {}) {
    this.node = node
    this.minBackoffMs = init.minBackoffMs ?? REDIAL_MIN_MS
    this.maxBackoffMs = init.maxBackoffMs ?? REDIAL_MAX_MS
    this.reservations = addrs.map(({ addr, memberId }) => ({
      addr: multiaddr(addr),
      memberId,
      peerId: multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value,
      backoffMs: this.minBackoffMs,
      connectedAt: undefined,
      timer: undefined,
      dialing: false
    }))
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
      const answered = this.node.gate.peerOf(connection)?.memberId
      if (r.memberId !== undefined && answered !== r.memberId) {
        // The roster lists this address for another member: whoever answered is not the reserved peer.
        await connection.close()
        this.node.log.warn({ event: 'reserved-dial', result: 'failed', addr: r.addr.toString(), reason: 'member-mismatch', expected: r.memberId, memberId: answered, retryMs: r.backoffMs }, `reserved peer ${r.addr.toString()} answered as ${answered ?? 'nobody'}, not ${r.memberId}`)
        this.schedule(r)
        return
      }
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
