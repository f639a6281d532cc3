import { EventEmitter } from 'node:events'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import type { Connection, Libp2p, PeerId, Stream, StreamHandler, StreamMiddleware } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import {
  acceptsPeer, Credential, CredentialVerifier, MAX_CREDENTIAL_BYTES, protocolAllows, reasonFix, verifyCredential,
  type NodeKey, type ReasonCode, type Roster, type RosterStore, type RosterUpdate
} from '../membership/index.ts'
import { BanList, type BanPolicy } from './bans.ts'
import { decodeHello, encodeHello, type Hello } from './hello.ts'
import { silentLog, type Logger } from './log.ts'
import { MAX_INBOUND_SYNC_STREAMS, ROSTER_PROTOCOL, RosterSync } from './roster-sync.ts'
import { FedgateMetrics } from './metrics.ts'
import type { AdmittedPeer, FederationNodeEvents, Refusal } from './types.ts'

/** Pushes a renewed credential to a connected peer, which verifies it and keeps the connection. */
export const RENEW_PROTOCOL = '/fedgate/credential/1.0.0'
/** Tells a peer why fedgate is closing its connection, just before closing it. */
export const BYE_PROTOCOL = '/fedgate/bye/1.0.0'

/** fedgate's own protocols: open to every admitted peer, whatever the roster's policy.protocols says. */
const INTERNAL_PROTOCOLS: ReadonlySet<string> = new Set([RENEW_PROTOCOL, BYE_PROTOCOL, ROSTER_PROTOCOL])
const REFUSALS_KEPT = 100
/** A verified handshake waits this long (beyond the handshake deadline) for its connection to open. */
const VERIFIED_GRACE_MS = 5_000
const MAX_PENDING_VERIFIED = 4096
const MAX_REFUSED_PEERS = 4096
const BYE_TIMEOUT_MS = 250
const RENEW_TIMEOUT_MS = 5_000
const MAX_TIMER_MS = 2 ** 31 - 1
/** Refusals that say the peer itself is not a member; such a peer is not dialled again until the roster changes. */
const PERSISTENT_REFUSALS: ReadonlySet<ReasonCode> = new Set(['unknown-member', 'revoked', 'bad-signature', 'federation-mismatch'])
/** Connections one node key may hold at once (simultaneous dials in both directions need two). */
const MAX_CONNECTIONS_PER_PEER = 4

/** Thrown when a gate is attached to a libp2p node whose registrar does not run fedgate's stream guard. */
export class StreamGuardMissingError extends Error {
  override readonly name = 'StreamGuardMissingError'

  constructor () {
    super('fedgate stream guard is not installed: add `services: { fedgate: streamGuard(gate) }` to the createLibp2p options')
  }
}

/** The part of libp2p's registrar the stream guard hooks (libp2p's own Registrar has it). */
export interface GuardableRegistrar {
  getMiddleware (protocol: string): StreamMiddleware[]
}

/** The libp2p service that runs fedgate's stream guard; it has no API of its own. */
export interface StreamGuardService {
  readonly [Symbol.toStringTag]: string
}

/**
 * A libp2p service factory that puts fedgate's stream guard in front of every inbound stream, for
 * every protocol, however its handler was registered (libp2p.handle, a service, the registrar):
 * a stream reaches its handler only from an admitted peer whose roles the roster allows on it.
 */
export function streamGuard (gate: FederationGate): (components: { registrar: GuardableRegistrar }) => StreamGuardService {
  return (components) => {
    gate.installGuard(components.registrar)
    return { [Symbol.toStringTag]: '@fedgate/stream-guard' }
  }
}

/** Thrown when this node's own credential does not verify under its roster. */
export class SelfCredentialError extends Error {
  override readonly name = 'SelfCredentialError'
  readonly code: ReasonCode

  constructor (code: ReasonCode, detail: string) {
    super(`own credential refused: ${code} (${detail}); fix: ${reasonFix(code)}`)
    this.code = code
  }
}

export interface FederationGateInit {
  nodeKey: NodeKey
  credential: Credential
  store: RosterStore
  /** The credential file; when set, `watchCredential()` applies renewals written to it. */
  credentialFile?: string
  log?: Logger
  metrics?: FedgateMetrics
  /** Repeated handshake failures from one IP earn growing bans. `false` turns bans off. */
  bans?: Partial<BanPolicy> | false
  /** @default Date.now */
  clock?: () => number
  /**
   * Exchange roster epochs with admitted peers: announce each accepted epoch, and fetch epochs a
   * peer runs that this node lacks (each still checked by the RosterStore). @default true
   */
  rosterSync?: boolean
}

interface AdmittedConnection {
  readonly connection: Connection
  peer: AdmittedPeer
  timer?: NodeJS.Timeout
  closing?: ReasonCode
  /** Who is closing: this node (a refusal of the peer) or the peer (its bye told us why). */
  closingBy?: 'local' | 'remote'
  rosterChangeAt?: number
}

interface VerifiedHandshake {
  readonly credential: Credential
  /** The roster epoch the peer said it runs. */
  readonly rosterEpoch: number
  readonly direction: 'inbound' | 'outbound'
  readonly at: number
}

/**
 * The admission state shared by fedgate's pieces: the membership encrypter asks it to judge a
 * hello, the gater asks whether a peer was just verified, the stream guard asks what roles a
 * connection holds, and live enforcement re-checks admitted connections when the roster or a
 * credential changes. One gate serves one libp2p node.
 */
export class FederationGate extends EventEmitter<FederationNodeEvents> {
  readonly nodeKey: NodeKey
  readonly peerId: string
  readonly store: RosterStore
  readonly log: Logger
  readonly metrics: FedgateMetrics
  readonly credentialFile: string | undefined
  private readonly clock: () => number
  private readonly verifier = new CredentialVerifier()
  private readonly bans: BanList | null
  private localCredential: Credential
  private readonly verified = new Map<string, VerifiedHandshake[]>()
  private readonly admitted = new Map<string, AdmittedConnection>()
  private readonly refusedPeers = new Map<string, ReasonCode>()
  private readonly refusalLog: Refusal[] = []
  private guardInstalled = false
  private readonly sync: RosterSync | null
  private credentialWatcher: FSWatcher | undefined
  private credentialTimer: NodeJS.Timeout | undefined
  private readonly onRoster = (update: RosterUpdate): void => {
    this.enforceRoster(update).catch(err => this.log.error({ event: 'enforcement-error', err: String(err) }, 'live enforcement failed'))
  }
  private readonly onRosterRefused = (refusal: { code: ReasonCode, message: string, source: string }): void => {
    this.metrics.rosterUpdates.inc({ result: 'refused', reason: refusal.code })
    this.emit('roster-refused', { code: refusal.code, message: refusal.message, source: refusal.source })
  }

  constructor (init: FederationGateInit) {
    super()
    this.nodeKey = init.nodeKey
    this.peerId = init.nodeKey.peerId
    this.store = init.store
    this.credentialFile = init.credentialFile === undefined ? undefined : resolve(init.credentialFile)
    this.log = init.log ?? silentLog()
    this.metrics = init.metrics ?? new FedgateMetrics()
    this.clock = init.clock ?? Date.now
    this.bans = init.bans === false ? null : new BanList(init.bans)
    this.localCredential = init.credential
    this.sync = init.rosterSync === false ? null : new RosterSync(this.store, this.log)
    const code = this.checkOwn(init.credential, this.store.current)
    if (code !== null) throw new SelfCredentialError(code, `credential ${init.credential.fingerprint.slice(0, 16)} for ${init.credential.memberId} under roster epoch ${this.store.current.epoch}`)
    this.store.on('roster', this.onRoster)
    this.store.on('refused', this.onRosterRefused)
    this.metrics.rosterEpoch.set(this.store.current.epoch)
    this.updateExpiryGauge()
  }

  get roster (): Roster {
    return this.store.current
  }

  get credential (): Credential {
    return this.localCredential
  }

  get localRoles (): readonly string[] {
    return this.localCredential.roles
  }

  get handshakeTimeoutMs (): number {
    return this.roster.policy.limits.handshakeTimeoutMs
  }

  now (): number {
    return this.clock()
  }

  /** What this node presents in its hello. */
  hello (): Hello {
    return { federation: this.roster.federation, rosterEpoch: this.roster.epoch, credential: this.localCredential }
  }

  /** Null when this node's own credential verifies under `roster`, else the reason code. */
  checkOwn (credential: Credential, roster: Roster): ReasonCode | null {
    return verifyCredential(credential, this.peerId, roster, this.now())
  }

  /**
   * Judges a peer's hello: its credential must verify for the PeerId Noise authenticated, under the
   * local roster, in a role the local roles accept, within the member's and the node's connection
   * limits. A peer that passes holds a reservation (counted against those limits by concurrent
   * handshakes) until its connection opens, `cancel()` releases it, or it lapses.
   */
  judge (hello: Hello, remotePeer: string, direction: 'inbound' | 'outbound'): ReasonCode | null {
    const roster = this.roster
    const now = this.now()
    const credential = hello.credential
    const verdict = this.verifier.verify(credential, remotePeer, roster, now)
    if (verdict !== null) return verdict
    if (!acceptsPeer(roster.policy, this.localRoles, credential.roles)) return 'role-not-accepted'
    // Limits count distinct node keys (admitted or holding a reservation), so one key cannot fill
    // the node's slots by opening many connections; it is capped separately.
    const memberPeers = new Set<string>()
    const directionPeers = new Set<string>()
    let ownConnections = 0
    const count = (peerId: string, memberId: string, peerDirection: string): void => {
      if (peerId === remotePeer) ownConnections++
      else {
        if (memberId === credential.memberId) memberPeers.add(peerId)
        if (peerDirection === direction) directionPeers.add(peerId)
      }
    }
    for (const { peer } of this.admitted.values()) count(peer.peerId, peer.memberId, peer.direction)
    for (const [peerId, list] of this.verified) {
      for (const v of list) {
        if (this.isLive(v, now)) count(peerId, v.credential.memberId, v.direction)
      }
    }
    if (memberPeers.size >= roster.memberLimit(credential.memberId)) return 'member-over-limit'
    const limits = roster.policy.limits
    if (directionPeers.size >= (direction === 'inbound' ? limits.maxInboundConnections : limits.maxOutboundConnections)) return 'connection-limit'
    if (ownConnections >= MAX_CONNECTIONS_PER_PEER) return 'connection-limit'
    if (this.verified.size >= MAX_PENDING_VERIFIED) {
      this.pruneVerified(now)
      // Live reservations are never dropped to make room: refuse instead.
      if (this.verified.size >= MAX_PENDING_VERIFIED) return 'connection-limit'
    }
    const list = (this.verified.get(remotePeer) ?? []).filter(v => this.isLive(v, now))
    list.push({ credential, rosterEpoch: hello.rosterEpoch, direction, at: now })
    this.verified.set(remotePeer, list)
    this.refusedPeers.delete(remotePeer)
    return null
  }

  /** Releases the reservation `judge()` made when the rest of the exchange fails. */
  cancel (remotePeer: string, credential: Credential): void {
    const list = this.verified.get(remotePeer)
    if (list === undefined) return
    const i = list.findIndex(v => v.credential === credential)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.verified.delete(remotePeer)
  }

  private isLive (v: VerifiedHandshake, now: number): boolean {
    return now - v.at < this.handshakeTimeoutMs + VERIFIED_GRACE_MS
  }

  /** True when the encrypter verified this peer moments ago (the gater's question). */
  wasVerified (peerId: PeerId): boolean {
    const list = this.verified.get(peerId.toString())
    const now = this.now()
    return list !== undefined && list.some(v => this.isLive(v, now))
  }

  /** True when this peer is known not to be a member (revoked PeerId, or refused before). */
  isKnownOutsider (peerId: PeerId): boolean {
    const id = peerId.toString()
    return this.roster.revokedPeers.has(id) || this.refusedPeers.has(id)
  }

  isBanned (ip: string): boolean {
    return this.bans?.isBanned(ip, this.now()) ?? false
  }

  /** Records a refusal: ring buffer, audit log, metrics, event, and the IP's failure count. */
  refuse (refusal: Omit<Refusal, 'at'>): void {
    const entry: Refusal = { ...refusal, at: this.now() }
    this.refusalLog.push(entry)
    if (this.refusalLog.length > REFUSALS_KEPT) this.refusalLog.shift()
    if (entry.stage === 'handshake' || entry.stage === 'accept') {
      this.metrics.handshakes.inc({ direction: entry.direction, result: entry.by === 'local' ? 'refused' : 'refused-by-peer', reason: entry.code })
    }
    if (entry.stage === 'handshake') {
      if (entry.peerId !== undefined && entry.by === 'local' && PERSISTENT_REFUSALS.has(entry.code)) {
        if (this.refusedPeers.size >= MAX_REFUSED_PEERS) this.refusedPeers.clear()
        this.refusedPeers.set(entry.peerId, entry.code)
      }
      const ip = entry.direction === 'inbound' && entry.by === 'local' ? ipOf(entry.remoteAddr) : undefined
      if (ip !== undefined && this.bans !== null) {
        const banMs = this.bans.fail(ip, entry.at)
        if (banMs > 0) this.log.warn({ event: 'ban', ip, banMs, reason: entry.code }, 'remote address banned after repeated failed handshakes')
      }
    }
    const event = entry.stage === 'stream' ? 'stream-reset' : 'refusal'
    this.log.info({ event, reason: entry.code, by: entry.by, stage: entry.stage, direction: entry.direction, peerId: entry.peerId, memberId: entry.memberId, remoteAddr: entry.remoteAddr, protocol: entry.protocol }, `${event}: ${entry.code}`)
    this.emit(entry.stage === 'stream' ? 'stream-reset' : 'refused', entry)
  }

  /** Recent refusals, oldest first. */
  refusals (): Refusal[] {
    return [...this.refusalLog]
  }

  /** Admitted peers, one entry per peer (its oldest live connection). */
  peers (): AdmittedPeer[] {
    const byPeer = new Map<string, AdmittedPeer>()
    for (const { peer } of this.admitted.values()) {
      const seen = byPeer.get(peer.peerId)
      if (seen === undefined || peer.since < seen.since) byPeer.set(peer.peerId, peer)
    }
    return [...byPeer.values()]
  }

  /** The admitted peer behind a connection, if fedgate admitted it. */
  peerOf (connection: Connection): AdmittedPeer | undefined {
    return this.admitted.get(connection.id)?.peer
  }

  /**
   * Wires the gate into a libp2p node before it starts: admission bookkeeping on connection events,
   * the renewal and bye protocols, and live enforcement. The node must run `streamGuard(gate)` as
   * a service, so that no handler is reachable without the guard (StreamGuardMissingError otherwise).
   */
  async attach (libp2p: Libp2p): Promise<void> {
    if (!this.guardInstalled) throw new StreamGuardMissingError()
    libp2p.addEventListener('connection:open', evt => { this.admit(evt.detail) })
    libp2p.addEventListener('connection:close', evt => { this.release(evt.detail) })
    await libp2p.handle(RENEW_PROTOCOL, async (stream, connection) => this.receiveRenewal(stream, connection))
    await libp2p.handle(BYE_PROTOCOL, async (stream, connection) => this.receiveBye(stream, connection))
    const sync = this.sync
    if (sync !== null) await libp2p.handle(ROSTER_PROTOCOL, async (stream, connection) => sync.serve(stream, connection), { maxInboundStreams: MAX_INBOUND_SYNC_STREAMS })
    for (const connection of libp2p.getConnections()) this.admit(connection)
  }

  /** Puts the stream guard first in the middleware of every protocol (see `streamGuard`). */
  installGuard (registrar: GuardableRegistrar): void {
    const middlewareOf = registrar.getMiddleware.bind(registrar)
    // A fresh array per stream: the guard first, then whatever the node registered with use().
    registrar.getMiddleware = (protocol: string) => [this.guardMiddleware, ...middlewareOf(protocol)]
    this.guardInstalled = true
  }

  /** Why a peer may not open `protocol` on `connection`, or null when it may. */
  authorize (protocol: string, connection: Connection): ReasonCode | null {
    const entry = this.admitted.get(connection.id)
    if (entry === undefined) return 'no-credential'
    // A connection being closed (its bye in flight) opens nothing more.
    if (entry.closing !== undefined) return entry.closingBy === 'local' ? entry.closing : 'connection-closed'
    if (INTERNAL_PROTOCOLS.has(protocol)) return null
    return protocolAllows(this.roster.policy, protocol, entry.peer.roles) ? null : 'protocol-not-allowed'
  }

  private readonly guardMiddleware: StreamMiddleware = (stream, connection, next) => {
    if (stream.direction === 'outbound') {
      next(stream, connection)
      return
    }
    const code = this.authorize(stream.protocol ?? '', connection)
    if (code !== null) {
      this.recordStreamReset(stream, connection, code, 'stream')
      // Throwing makes libp2p reset the stream before any handler sees it.
      throw new Error(`fedgate: ${code}`)
    }
    next(stream, connection)
  }

  /** A handler that also receives the admitted peer behind the connection (for `FederationNode.handle`). */
  withPeer (handler: (stream: Stream, connection: Connection, peer: AdmittedPeer) => void | Promise<void>): StreamHandler {
    return async (stream, connection) => {
      const peer = this.admitted.get(connection.id)?.peer
      if (peer === undefined) {
        this.recordStreamReset(stream, connection, 'no-credential', 'stream')
        stream.abort(new Error('fedgate: no-credential'))
        return
      }
      await handler(stream, connection, peer)
    }
  }

  private recordStreamReset (stream: Stream, connection: Connection, code: ReasonCode, stage: 'stream' | 'live'): void {
    const protocol = stream.protocol ?? ''
    const peer = this.admitted.get(connection.id)?.peer
    this.metrics.streamResets.inc({ reason: code, protocol })
    this.refuse({ code, by: 'local', stage, direction: connection.direction, peerId: connection.remotePeer.toString(), memberId: peer?.memberId, remoteAddr: connection.remoteAddr.toString(), protocol })
  }

  private admit (connection: Connection): void {
    if (this.admitted.has(connection.id)) return
    const remotePeer = connection.remotePeer.toString()
    const list = this.verified.get(remotePeer) ?? []
    const now = this.now()
    const index = list.findLastIndex(v => v.direction === connection.direction && this.isLive(v, now))
    const record = index >= 0 ? list.splice(index, 1)[0] : undefined
    if (list.length === 0) this.verified.delete(remotePeer)
    if (record === undefined) {
      // Only connections that passed the membership exchange may exist; anything else is cut.
      this.refuse({ code: 'no-credential', by: 'local', stage: 'gate', direction: connection.direction, peerId: remotePeer, remoteAddr: connection.remoteAddr.toString() })
      connection.abort(new Error('fedgate: no-credential'))
      return
    }
    const peer: AdmittedPeer = {
      peerId: remotePeer,
      memberId: record.credential.memberId,
      roles: record.credential.roles,
      direction: connection.direction,
      since: this.now(),
      credential: record.credential,
      rosterEpoch: record.rosterEpoch,
      remoteAddr: connection.remoteAddr.toString()
    }
    const entry: AdmittedConnection = { connection, peer }
    this.admitted.set(connection.id, entry)
    this.scheduleExpiry(entry)
    for (const role of peer.roles) this.metrics.admittedPeers.inc({ role })
    this.metrics.handshakes.inc({ direction: connection.direction, result: 'admitted', reason: 'ok' })
    this.log.info({ event: 'admission', reason: 'ok', peerId: remotePeer, memberId: peer.memberId, roles: peer.roles, direction: peer.direction, remoteAddr: peer.remoteAddr, credential: record.credential.fingerprint }, `admitted ${peer.memberId}`)
    this.emit('admitted', peer)
    // A roster epoch may have landed between the membership exchange and this moment.
    const code = this.recheck(peer.credential, remotePeer, this.roster)
    if (code !== null) void this.disconnect(connection, code)
    else this.sync?.want(peer.rosterEpoch, connection)
  }

  private release (connection: Connection): void {
    const entry = this.admitted.get(connection.id)
    if (entry === undefined) return
    this.admitted.delete(connection.id)
    this.sync?.forget(connection)
    clearTimeout(entry.timer)
    for (const role of entry.peer.roles) this.metrics.admittedPeers.dec({ role })
    const code = entry.closing ?? 'connection-closed'
    if (entry.rosterChangeAt !== undefined) this.metrics.revocationLatency.observe((this.now() - entry.rosterChangeAt) / 1000)
    const at = this.now()
    this.log.info({ event: 'disconnect', reason: code, peerId: entry.peer.peerId, memberId: entry.peer.memberId, remoteAddr: entry.peer.remoteAddr }, `disconnected ${entry.peer.memberId}: ${code}`)
    this.emit('disconnected', { peerId: entry.peer.peerId, memberId: entry.peer.memberId, code, remoteAddr: entry.peer.remoteAddr, at })
  }

  /**
   * Closes an admitted connection with a reason code, telling the peer why first. `rosterChangeAt`
   * is when the roster epoch that caused it was accepted, for the revocation latency histogram.
   */
  async disconnect (connection: Connection, code: ReasonCode, rosterChangeAt?: number): Promise<void> {
    const entry = this.admitted.get(connection.id)
    if (entry !== undefined) {
      if (entry.closing !== undefined) return
      entry.closing = code
      entry.closingBy = 'local'
      entry.rosterChangeAt = rosterChangeAt
      this.metrics.disconnects.inc({ reason: code })
      this.refusalLog.push({ code, by: 'local', stage: 'live', direction: connection.direction, peerId: entry.peer.peerId, memberId: entry.peer.memberId, remoteAddr: entry.peer.remoteAddr, at: this.now() })
      if (this.refusalLog.length > REFUSALS_KEPT) this.refusalLog.shift()
    }
    await this.sendBye(connection, code)
    connection.abort(new Error(`fedgate: ${code}`))
  }

  private async sendBye (connection: Connection, code: ReasonCode): Promise<void> {
    const signal = AbortSignal.timeout(BYE_TIMEOUT_MS)
    try {
      const stream = await connection.newStream(BYE_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: 256 })
      await lp.write(encodeHello({ verdict: code }), { signal })
      // Wait for the acknowledgement so the peer has recorded the reason before the connection goes.
      await lp.read({ signal })
      await stream.close({ signal })
    } catch {
      // The peer may already be gone; the connection is closed regardless.
    }
  }

  private async receiveBye (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(BYE_TIMEOUT_MS * 4)
    try {
      const lp = lpStream(stream, { maxDataLength: 256 })
      const { verdict } = decodeHello((await lp.read({ signal })).subarray(), { hello: false, verdict: true })
      const entry = this.admitted.get(connection.id)
      if (verdict !== undefined && verdict !== 'ok' && entry !== undefined) {
        entry.closing = verdict
        entry.closingBy = 'remote'
        this.refuse({ code: verdict, by: 'remote', stage: 'live', direction: connection.direction, peerId: entry.peer.peerId, memberId: entry.peer.memberId, remoteAddr: entry.peer.remoteAddr })
      }
      await lp.write(encodeHello({ verdict: 'ok' }), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(new Error('fedgate: malformed bye'))
    }
  }

  /** Re-checks every admitted connection against a new roster epoch and closes what no longer passes. */
  private async enforceRoster (update: RosterUpdate): Promise<void> {
    const since = this.now()
    const roster = update.current
    this.refusedPeers.clear()
    this.metrics.rosterEpoch.set(roster.epoch)
    this.metrics.rosterUpdates.inc({ result: 'accepted', reason: 'ok' })
    const own = this.checkOwn(this.localCredential, roster)
    if (own !== null) {
      this.log.error({ event: 'own-credential-refused', reason: own, epoch: roster.epoch, fix: reasonFix(own) }, `own credential no longer verifies under epoch ${roster.epoch}: ${own}`)
    }
    const closing: Array<Promise<void>> = []
    for (const entry of this.admitted.values()) {
      // A connection already being closed (by us, or by the peer's bye) is left to close.
      if (entry.closing !== undefined) continue
      const code = this.recheck(entry.peer.credential, entry.peer.peerId, roster)
      if (code !== null) closing.push(this.disconnect(entry.connection, code, since))
      else this.enforceStreams(entry.connection)
    }
    this.emit('roster', { epoch: roster.epoch, previousEpoch: update.previous?.epoch ?? null, dropped: closing.length })
    this.sync?.announceSoon(() => [...this.admitted.values()].filter(e => e.closing === undefined).map(e => e.connection))
    await Promise.all(closing)
  }

  /** Resets open inbound streams whose protocol the current roster no longer allows the peer. */
  private enforceStreams (connection: Connection): void {
    for (const stream of connection.streams) {
      // A stream still negotiating its protocol meets the guard once negotiation ends.
      if (stream.direction !== 'inbound' || stream.protocol === undefined || stream.protocol === '') continue
      const code = this.authorize(stream.protocol, connection)
      if (code === null) continue
      this.recordStreamReset(stream, connection, code, 'live')
      stream.abort(new Error(`fedgate: ${code}`))
    }
  }

  private recheck (credential: Credential, peerId: string, roster: Roster): ReasonCode | null {
    const verdict = this.verifier.verify(credential, peerId, roster, this.now())
    if (verdict !== null) return verdict
    return acceptsPeer(roster.policy, this.localRoles, credential.roles) ? null : 'role-not-accepted'
  }

  private scheduleExpiry (entry: AdmittedConnection): void {
    clearTimeout(entry.timer)
    const deadline = entry.peer.credential.notAfterMs + this.roster.policy.clockSkewMs
    const delay = Math.min(Math.max(deadline - this.now(), 0) + 1, MAX_TIMER_MS)
    entry.timer = setTimeout(() => {
      const code = this.recheck(entry.peer.credential, entry.peer.peerId, this.roster)
      if (code !== null) void this.disconnect(entry.connection, code)
      else this.scheduleExpiry(entry)
    }, delay)
    entry.timer.unref()
  }

  /** Applies a renewed local credential and pushes it to every connected peer. */
  async renew (credential: Credential): Promise<ReasonCode | null> {
    const code = this.checkOwn(credential, this.roster)
    if (code !== null) {
      this.metrics.credentialRenewals.inc({ direction: 'local', result: code })
      this.log.warn({ event: 'credential-renewal-refused', reason: code, fix: reasonFix(code) }, `renewed credential refused: ${code}; keeping the current one`)
      return code
    }
    if (credential.fingerprint === this.localCredential.fingerprint) return null
    this.localCredential = credential
    this.updateExpiryGauge()
    this.metrics.credentialRenewals.inc({ direction: 'local', result: 'ok' })
    this.log.info({ event: 'credential-renewal', reason: 'ok', local: true, peerId: this.peerId, memberId: credential.memberId, notAfter: credential.document.notAfter, credential: credential.fingerprint }, 'local credential renewed')
    this.emit('credential-renewed', { peerId: this.peerId, memberId: credential.memberId, notAfter: credential.notAfterMs, local: true })
    const byPeer = new Map<string, Connection>()
    for (const { connection } of this.admitted.values()) byPeer.set(connection.remotePeer.toString(), connection)
    await Promise.all([...byPeer.values()].map(async connection => this.pushRenewal(connection, credential)))
    return null
  }

  private async pushRenewal (connection: Connection, credential: Credential): Promise<void> {
    const signal = AbortSignal.timeout(RENEW_TIMEOUT_MS)
    try {
      const stream = await connection.newStream(RENEW_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_CREDENTIAL_BYTES + 256 })
      await lp.write(new TextEncoder().encode(credential.encode()), { signal })
      const { verdict } = decodeHello((await lp.read({ signal })).subarray(), { hello: false, verdict: true })
      await stream.close({ signal })
      this.metrics.credentialRenewals.inc({ direction: 'outbound', result: verdict ?? 'malformed' })
      if (verdict !== 'ok') this.log.warn({ event: 'credential-renewal-refused', reason: verdict, peerId: connection.remotePeer.toString() }, 'peer refused the renewed credential')
    } catch (err) {
      this.metrics.credentialRenewals.inc({ direction: 'outbound', result: 'error' })
      this.log.warn({ event: 'credential-renewal-failed', peerId: connection.remotePeer.toString(), err: String(err) }, 'could not push the renewed credential')
    }
  }

  private async receiveRenewal (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(RENEW_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_CREDENTIAL_BYTES })
    let code: ReasonCode | null
    let credential: Credential | undefined
    try {
      credential = Credential.decode((await lp.read({ signal })).subarray())
      code = this.recheck(credential, connection.remotePeer.toString(), this.roster)
    } catch {
      code = 'malformed'
    }
    const remotePeer = connection.remotePeer.toString()
    if (code === null && credential !== undefined) {
      for (const entry of this.admitted.values()) {
        if (entry.peer.peerId !== remotePeer) continue
        for (const role of entry.peer.roles) this.metrics.admittedPeers.dec({ role })
        entry.peer = { ...entry.peer, credential, roles: credential.roles, memberId: credential.memberId }
        for (const role of entry.peer.roles) this.metrics.admittedPeers.inc({ role })
        this.scheduleExpiry(entry)
        this.enforceStreams(entry.connection)
      }
      this.log.info({ event: 'credential-renewal', reason: 'ok', local: false, peerId: remotePeer, remoteAddr: connection.remoteAddr.toString(), memberId: credential.memberId, notAfter: credential.document.notAfter, credential: credential.fingerprint }, `peer credential renewed for ${credential.memberId}`)
      this.emit('credential-renewed', { peerId: remotePeer, memberId: credential.memberId, notAfter: credential.notAfterMs, local: false })
    } else {
      this.log.warn({ event: 'credential-renewal-refused', reason: code, peerId: remotePeer }, 'refused a renewed credential from a peer')
    }
    this.metrics.credentialRenewals.inc({ direction: 'inbound', result: code ?? 'ok' })
    try {
      await lp.write(encodeHello({ verdict: code ?? 'ok' }), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(new Error('fedgate: renewal reply failed'))
    }
  }

  /** Watches the credential file; a valid renewed credential written there is applied and pushed. */
  watchCredential (): void {
    if (this.credentialFile === undefined || this.credentialWatcher !== undefined) return
    const file = this.credentialFile
    const name = basename(file)
    this.credentialWatcher = watch(dirname(file), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name) return
      clearTimeout(this.credentialTimer)
      this.credentialTimer = setTimeout(() => { void this.reloadCredential() }, 25)
    })
    this.credentialWatcher.on('error', err => this.log.warn({ event: 'credential-watch-error', err: String(err) }, 'credential file watch failed'))
  }

  /** Re-reads the credential file (file change or SIGHUP). */
  async reloadCredential (): Promise<ReasonCode | null> {
    if (this.credentialFile === undefined) return null
    let credential: Credential
    try {
      credential = Credential.decode(await readFile(this.credentialFile))
    } catch (err) {
      this.log.warn({ event: 'credential-renewal-refused', reason: 'malformed', file: this.credentialFile, detail: String(err) }, 'credential file does not parse; keeping the current credential')
      return 'malformed'
    }
    return this.renew(credential)
  }

  updateExpiryGauge (): void {
    this.metrics.credentialExpirySeconds.set(Math.round((this.localCredential.notAfterMs - this.now()) / 1000))
  }

  /** Tells every peer why, closes every connection, and stops watching. */
  async shutdown (code: ReasonCode = 'shutdown'): Promise<void> {
    this.credentialWatcher?.close()
    this.credentialWatcher = undefined
    clearTimeout(this.credentialTimer)
    this.store.off('roster', this.onRoster)
    this.store.off('refused', this.onRosterRefused)
    this.sync?.stop()
    await Promise.all([...this.admitted.values()].map(async entry => this.disconnect(entry.connection, code)))
    for (const entry of this.admitted.values()) clearTimeout(entry.timer)
  }

  private pruneVerified (now: number): void {
    for (const [peer, list] of this.verified) {
      const live = list.filter(v => this.isLive(v, now))
      if (live.length === 0) this.verified.delete(peer)
      else this.verified.set(peer, live)
    }
  }
}

/** The IP in a multiaddr string such as /ip4/1.2.3.4/tcp/5. */
export function ipOf (addr: string | undefined): string | undefined {
  const match = addr === undefined ? null : /^\/ip[46]\/([^/]+)/.exec(addr)
  return match?.[1]
}
