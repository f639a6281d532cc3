import type { Connection } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'
import type { ReasonCode } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import type { GateLog, GateMetrics } from '../telemetry.ts'
import type { AdmittedPeer, FederationEvents } from '../types.ts'
import type { Handshake } from './admission.ts'
import type { Refusals } from './refusals.ts'
import type { Slot, Slots } from './slots.ts'

/** One admitted connection and what fedgate tracks about it. */
export interface AdmittedConnection {
  readonly connection: Connection
  /** Replaced when the peer renews its credential. */
  peer: AdmittedPeer
  readonly slot: Slot<Handshake>
  /**
   * Set once the connection is being closed: the reason, who gave it (this node, or the peer in its
   * bye), and when the roster epoch behind it was accepted.
   */
  closing?: { readonly code: ReasonCode, readonly by: 'local' | 'remote', readonly rosterChangeAt?: number }
  /** The credential-expiry timer. */
  expiry?: NodeJS.Timeout
}

export interface AdmittedInit {
  readonly slots: Slots<Handshake>
  readonly refusals: Refusals
  readonly metrics: GateMetrics
  readonly log: GateLog
  readonly clock: () => number
  readonly events: TypedEventTarget<FederationEvents>
}

/**
 * The admitted connections: a connection enters when it opens holding the slot its handshake
 * reserved (anything else is cut at once), and leaves when it closes, freeing the slot.
 */
export class Admitted {
  private readonly init: AdmittedInit
  private readonly byConnection = new Map<string, AdmittedConnection>()
  private readonly byPeer = new Map<string, Set<AdmittedConnection>>()
  private readonly byMember = new Map<string, number>()

  constructor (init: AdmittedInit) {
    this.init = init
  }

  /** Registers a connection that just opened; returns its entry, or undefined when it was cut. */
  open (connection: Connection): AdmittedConnection | undefined {
    const { slots, refusals, metrics, log, clock, events } = this.init
    const known = this.byConnection.get(connection.id)
    if (known !== undefined) return known
    const remotePeer = connection.remotePeer.toString()
    const slot = slots.take(remotePeer, connection.direction, connection.id)
    if (slot === undefined) {
      // Only connections that passed the membership exchange may exist; anything else is cut.
      refusals.record({ code: 'no-credential', by: 'local', stage: 'gate', direction: connection.direction, peerId: remotePeer, remoteAddr: connection.remoteAddr.toString() })
      connection.abort(new Error('fedgate: no-credential'))
      return undefined
    }
    const { credential, rosterEpoch } = slot.details
    const peer: AdmittedPeer = Object.freeze({
      peerId: remotePeer,
      memberId: credential.memberId,
      roles: credential.roles,
      direction: connection.direction,
      since: clock(),
      credential,
      rosterEpoch,
      remoteAddr: connection.remoteAddr.toString()
    })
    const entry: AdmittedConnection = { connection, peer, slot }
    this.byConnection.set(connection.id, entry)
    let peerEntries = this.byPeer.get(remotePeer)
    if (peerEntries === undefined) {
      peerEntries = new Set()
      this.byPeer.set(remotePeer, peerEntries)
    }
    peerEntries.add(entry)
    this.byMember.set(peer.memberId, (this.byMember.get(peer.memberId) ?? 0) + 1)
    for (const role of peer.roles) metrics.admittedPeers.inc({ role })
    metrics.handshakes.inc({ direction: connection.direction, result: 'admitted', reason: 'ok' })
    logEvent(log, 'info', 'admission', { reason: 'ok', peerId: remotePeer, memberId: peer.memberId, roles: peer.roles, direction: peer.direction, remoteAddr: peer.remoteAddr, credential: credential.fingerprint }, `admitted ${peer.memberId}`)
    events.safeDispatchEvent('admitted', { detail: peer })
    return entry
  }

  /** Removes a connection that closed; returns its entry, if it was admitted. */
  close (connection: Connection): AdmittedConnection | undefined {
    const { metrics, log, clock, events } = this.init
    const entry = this.byConnection.get(connection.id)
    if (entry === undefined) return undefined
    this.byConnection.delete(connection.id)
    const peerEntries = this.byPeer.get(entry.peer.peerId)
    peerEntries?.delete(entry)
    if (peerEntries?.size === 0) this.byPeer.delete(entry.peer.peerId)
    const memberConnections = (this.byMember.get(entry.peer.memberId) ?? 1) - 1
    if (memberConnections <= 0) this.byMember.delete(entry.peer.memberId)
    else this.byMember.set(entry.peer.memberId, memberConnections)
    entry.slot.release()
    clearTimeout(entry.expiry)
    for (const role of entry.peer.roles) metrics.admittedPeers.dec({ role })
    const code = entry.closing?.code ?? 'connection-closed'
    const at = clock()
    if (entry.closing?.rosterChangeAt !== undefined) metrics.revocationLatency.observe((at - entry.closing.rosterChangeAt) / 1000)
    logEvent(log, 'info', 'disconnect', { reason: code, peerId: entry.peer.peerId, memberId: entry.peer.memberId, remoteAddr: entry.peer.remoteAddr }, `disconnected ${entry.peer.memberId}: ${code}`)
    events.safeDispatchEvent('disconnected', { detail: { peerId: entry.peer.peerId, memberId: entry.peer.memberId, code, remoteAddr: entry.peer.remoteAddr, at } })
    return entry
  }

  /** Replaces a peer's credential on one connection (a renewal), keeping the role gauge right. */
  renew (entry: AdmittedConnection, peer: AdmittedPeer): void {
    for (const role of entry.peer.roles) this.init.metrics.admittedPeers.dec({ role })
    entry.peer = peer
    for (const role of peer.roles) this.init.metrics.admittedPeers.inc({ role })
  }

  get (connection: Connection): AdmittedConnection | undefined {
    return this.byConnection.get(connection.id)
  }

  /** The admitted connection with this id. */
  byId (connectionId: string): AdmittedConnection | undefined {
    return this.byConnection.get(connectionId)
  }

  /** Whether any connection of `memberId` is admitted (closing or not). */
  hasMember (memberId: string): boolean {
    return this.byMember.has(memberId)
  }

  /** Distinct members admitted now. */
  get members (): number {
    return this.byMember.size
  }

  /** The admitted connections of one PeerId. */
  ofPeer (peerId: string): ReadonlySet<AdmittedConnection> {
    return this.byPeer.get(peerId) ?? EMPTY
  }

  /** Every admitted connection. */
  all (): IterableIterator<AdmittedConnection> {
    return this.byConnection.values()
  }

  get size (): number {
    return this.byConnection.size
  }

  /** Admitted peers, one entry per peer (its oldest live connection). */
  peers (): AdmittedPeer[] {
    const out: AdmittedPeer[] = []
    for (const entries of this.byPeer.values()) {
      let oldest: AdmittedPeer | undefined
      for (const { peer } of entries) if (oldest === undefined || peer.since < oldest.since) oldest = peer
      if (oldest !== undefined) out.push(oldest)
    }
    return out
  }
}

const EMPTY: ReadonlySet<AdmittedConnection> = new Set()
