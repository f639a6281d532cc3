import type { Connection, PeerId } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import {
  CredentialVerifier, reasonFix, verifyCredential, type Credential, type ReasonCode, type Roster
} from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import { BanList, type BanPolicy } from '../net/bans.ts'
import type { NodeKey } from '../node-key.ts'
import type { PendingHandshakes } from '../net/pending.ts'
import type { ReservedPeerStatus } from '../peers/peer-manager.ts'
import type { RosterRefusal, RosterSource } from '../roster-source.ts'
import { quietLog, quietMetrics, type GateLog, type GateMetrics } from '../telemetry.ts'
import type { AdmittedPeer, FederationEvents, Membership, Refusal } from '../types.ts'
import { assembleInternals, type EpochExchange, type GateInternals, type PeerManagerOptions } from './internals.ts'

/** What `gate.slotUse()` returns. */
export interface SlotUse {
  readonly inbound: { readonly held: number, readonly limit: number }
  readonly outbound: { readonly held: number, readonly limit: number }
  readonly inboundByClass: Record<string, { held: number, share: number }>
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

export interface FederationGateInit<Store extends RosterSource = RosterSource> {
  nodeKey: NodeKey
  credential: Credential
  /** The accepted roster: a RosterStore (files), a MemoryRosterStore, or another RosterSource. */
  store: Store
  /** @default a log that drops every line */
  log?: GateLog
  /** @default metrics that count nothing */
  metrics?: GateMetrics
  /** Repeated refusals that prove an IP's peers are not members earn growing bans. `false` turns bans off. */
  bans?: Partial<BanPolicy> | false
  /** @default Date.now */
  clock?: () => number
  /** Verifies credentials, with its cache of good signatures. @default a new CredentialVerifier */
  verifier?: CredentialVerifier
  /** Roster propagation between admitted peers (a RosterSync), or none. */
  sync?: EpochExchange
  /**
   * The peer manager: keeps this node connected to the members the roster's topology names for its
   * roles, plus `extra` addresses. `false` turns it off (the node then only dials when asked).
   * @default {}
   */
  peers?: PeerManagerOptions | false
}

let internalsOfGate: (gate: FederationGate) => GateInternals

/** The shared state behind a gate, for fedgate's own libp2p pieces. */
export function internalsOf (gate: FederationGate): GateInternals {
  return internalsOfGate(gate)
}

/**
 * The admission state of one fedgate node: its identity and credential, the roster store, and the
 * parts that decide who gets in and stays in (slots, refusals, the admitted registry, the stream
 * guard, live enforcement, renewal, bye). Wire it into libp2p with `withFederation(gate)` (or the
 * pieces it returns); it then dispatches `admitted`, `refused`, `disconnected`, `stream-reset`,
 * `roster`, `roster-refused` and `credential-renewed`.
 */
export class FederationGate<Store extends RosterSource = RosterSource> extends TypedEventEmitter<FederationEvents> {
  readonly nodeKey: NodeKey
  readonly peerId: string
  readonly store: Store
  readonly log: GateLog
  readonly metrics: GateMetrics
  readonly bans: BanList | null
  readonly #internals: GateInternals
  readonly #clock: () => number
  readonly #verifier: CredentialVerifier
  #credential: Credential

  static {
    internalsOfGate = gate => gate.#internals
  }

  constructor (init: FederationGateInit<Store>) {
    super()
    this.nodeKey = init.nodeKey
    this.peerId = init.nodeKey.peerId
    this.store = init.store
    this.log = init.log ?? quietLog
    this.metrics = init.metrics ?? quietMetrics()
    this.#clock = init.clock ?? Date.now
    this.#verifier = init.verifier ?? new CredentialVerifier()
    this.bans = init.bans === false ? null : new BanList(init.bans)
    this.#credential = init.credential
    const own = this.ownVerdict()
    if (own !== null) throw new SelfCredentialError(own, `credential ${init.credential.fingerprint.slice(0, 16)} for ${init.credential.memberId} under roster epoch ${this.roster.epoch}`)
    this.#internals = assembleInternals({
      log: this.log,
      metrics: this.metrics,
      clock: this.#clock,
      bans: this.bans,
      verifier: this.#verifier,
      sync: init.sync,
      events: this,
      roster: () => this.roster,
      credential: () => this.#credential,
      ownVerdict: roster => this.ownVerdict(this.#credential, roster),
      peers: init.peers ?? {}
    })
    this.metrics.rosterEpoch.set(this.roster.epoch)
    this.metrics.credentialExpiry(() => this.#credential.notAfterMs)
    this.metrics.observe({
      slots: () => this.slotUse(),
      reserved: () => this.reservedPeers(),
      bannedIps: () => this.bannedIps().length,
      pendingHandshakes: () => this.pendingHandshakes().pending
    })
  }

  get roster (): Roster {
    return this.store.current
  }

  get credential (): Credential {
    return this.#credential
  }

  get localRoles (): readonly string[] {
    return this.#credential.roles
  }

  /** Null when this node's own credential verifies under the accepted roster now, else the reason code. */
  ownVerdict (credential: Credential = this.#credential, roster: Roster = this.roster): ReasonCode | null {
    return verifyCredential(credential, this.peerId, roster, this.#clock())
  }

  /** Admitted peers, one entry per peer (its oldest live connection). */
  peers (): AdmittedPeer[] {
    return this.#internals.admitted.peers()
  }

  /** The admitted peer behind a connection, if fedgate admitted it. */
  peerOf (connection: Connection): AdmittedPeer | undefined {
    return this.#internals.admitted.get(connection)?.peer
  }

  /** The admitted peer with this PeerId (its oldest live connection), if any. */
  peerById (peerId: PeerId | string): AdmittedPeer | undefined {
    let oldest: AdmittedPeer | undefined
    for (const { peer } of this.#internals.admitted.ofPeer(peerId.toString())) {
      if (oldest === undefined || peer.since < oldest.since) oldest = peer
    }
    return oldest
  }

  /** The roles an admitted PeerId holds now; empty when it is not admitted. */
  rolesOf (peerId: PeerId | string): readonly string[] {
    return this.peerById(peerId)?.roles ?? []
  }

  /**
   * Who an admitted PeerId is in the federation now: its member, the member's org in the accepted
   * roster, the roles its credential grants and when that credential expires. A gossipsub topic
   * validator gets the PeerId of the peer that forwarded a message; this answers without a loop
   * over connections. Undefined when no live admitted connection has that PeerId.
   */
  membershipOf (peerId: PeerId | string): Membership | undefined {
    const peer = this.#standing(peerId.toString())
    if (peer === undefined) return undefined
    const { credential } = peer
    return {
      peerId: peer.peerId,
      memberId: peer.memberId,
      org: this.roster.member(peer.memberId)?.org,
      roles: peer.roles,
      notAfter: credential.notAfterMs,
      credential: credential.fingerprint
    }
  }

  /**
   * The member whose verified credential named this PeerId (connected now or earlier), while the
   * accepted roster still lists the member and revokes neither it nor the PeerId. For mapping a
   * message's original author (gossipsub's signed `from`) to a member when the author is not a
   * direct peer; its roles are known only while it is connected (`membershipOf`).
   */
  memberIdOf (peerId: PeerId | string): string | undefined {
    const id = peerId.toString()
    const memberId = this.#standing(id)?.memberId ?? this.#internals.memberNodes.memberOf(id)
    const roster = this.roster
    if (memberId === undefined || roster.member(memberId) === undefined) return undefined
    if (roster.revokedMembers.has(memberId) || roster.revokedPeers.has(id)) return undefined
    return memberId
  }

  /** The peer of `peerId`'s oldest admitted connection that this node is not closing. */
  #standing (peerId: string): AdmittedPeer | undefined {
    let oldest: AdmittedPeer | undefined
    for (const { peer, closing } of this.#internals.admitted.ofPeer(peerId)) {
      if (closing === undefined && (oldest === undefined || peer.since < oldest.since)) oldest = peer
    }
    return oldest
  }

  /** Recent refusals, oldest first. */
  refusals (): Refusal[] {
    return this.#internals.refusals.recent()
  }

  /** Handshakes in progress, node-wide and for the IPs holding the most. */
  pendingHandshakes (): ReturnType<PendingHandshakes['stats']> {
    return this.#internals.pending.stats()
  }

  /** The peers this node must reach (roster topology and the extra addresses), with their health. */
  reservedPeers (): ReservedPeerStatus[] {
    return this.#internals.peers?.status() ?? []
  }

  /** Slot use: node keys per direction, and inbound per role class with the share guaranteed to it. */
  slotUse (): SlotUse {
    const { slots } = this.#internals
    const { limits, slotShares } = this.roster.policy
    const held = slots.heldByClass()
    const classes: SlotUse['inboundByClass'] = {}
    for (const roleClass of new Set([...slotShares.keys(), ...held.keys()])) {
      classes[roleClass] = { held: held.get(roleClass) ?? 0, share: Math.floor(limits.maxInboundConnections * (slotShares.get(roleClass) ?? 0) / 100) }
    }
    return {
      inbound: { held: slots.held('inbound'), limit: limits.maxInboundConnections },
      outbound: { held: slots.held('outbound'), limit: limits.maxOutboundConnections },
      inboundByClass: classes
    }
  }

  /** IPs banned now, with when each ban ends (ms since epoch). */
  bannedIps (): Array<{ ip: string, until: number }> {
    return this.bans?.banned(this.#clock()) ?? []
  }

  /**
   * Applies a renewed credential for this node and pushes it to every connected peer. Refused (and
   * the current one kept) when it does not verify under the accepted roster.
   */
  async renew (credential: Credential): Promise<ReasonCode | null> {
    const code = this.ownVerdict(credential)
    if (code !== null) {
      this.metrics.credentialRenewals.inc({ direction: 'local', result: code })
      logEvent(this.log, 'warn', 'credential-renewal-refused', { reason: code, local: true, fix: reasonFix(code) }, `renewed credential refused: ${code}; keeping the current one`)
      return code
    }
    if (credential.fingerprint === this.#credential.fingerprint) return null
    this.#credential = credential
    this.metrics.credentialRenewals.inc({ direction: 'local', result: 'ok' })
    logEvent(this.log, 'info', 'credential-renewal', { reason: 'ok', local: true, peerId: this.peerId, memberId: credential.memberId, roles: credential.roles, notAfter: credential.document.notAfter, credential: credential.fingerprint }, 'local credential renewed')
    this.safeDispatchEvent('credential-renewed', { detail: { peerId: this.peerId, memberId: credential.memberId, roles: credential.roles, notAfter: credential.notAfterMs, local: true } })
    await this.#internals.renewal.push(credential)
    return null
  }
}

/** Emits `roster-refused` and counts it; the store's own log line says why. */
export function rosterRefused (gate: FederationGate, refusal: RosterRefusal): void {
  gate.metrics.rosterUpdates.inc({ result: 'refused', reason: refusal.code })
  gate.safeDispatchEvent('roster-refused', { detail: refusal })
}
