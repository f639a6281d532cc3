import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { Credential, PolicyWarning, ReasonCode, Roster, RosterDiff } from '../membership/index.ts'
import type { RosterStore } from './files/roster-store.ts'
import type { RosterRefusal } from './roster-source.ts'

export type Direction = 'inbound' | 'outbound'

/** A peer that passed the membership exchange and holds a live connection. */
export interface AdmittedPeer {
  readonly peerId: string
  readonly memberId: string
  readonly roles: readonly string[]
  readonly direction: Direction
  /** When the (first live) connection was admitted, ms since epoch. */
  readonly since: number
  readonly credential: Credential
  /** The roster epoch the peer said it ran when it was admitted. */
  readonly rosterEpoch: number
  readonly remoteAddr: string
}

/** What `gate.membershipOf(peerId)` answers: an admitted PeerId's place in the federation now. */
export interface Membership {
  readonly peerId: string
  readonly memberId: string
  /** The member's org in the accepted roster, when it names one. */
  readonly org: string | undefined
  /** The roles the peer's current credential grants (renewals included). */
  readonly roles: readonly string[]
  /** When the peer's current credential expires, ms since epoch. */
  readonly notAfter: number
  /** The fingerprint of the peer's current credential. */
  readonly credential: string
}

/** A refused handshake, stream or connection, kept in a bounded ring for `/status`. */
export interface Refusal {
  readonly code: ReasonCode
  /** Which side decided: this node (`local`) or the peer told us (`remote`). */
  readonly by: 'local' | 'remote'
  readonly stage: 'accept' | 'handshake' | 'gate' | 'stream' | 'live'
  readonly direction: Direction
  readonly peerId?: string
  readonly memberId?: string
  readonly remoteAddr?: string
  readonly protocol?: string
  /** ms since epoch */
  readonly at: number
}

export interface Disconnect {
  readonly peerId: string
  readonly memberId?: string
  readonly code: ReasonCode
  readonly remoteAddr?: string
  readonly at: number
}

export interface RosterChange {
  readonly epoch: number
  readonly previousEpoch: number | null
  /** Admitted connections the new epoch closed. */
  readonly dropped: number
  /** What changed against the previous epoch (members, revocations, policy, admins). */
  readonly diff: RosterDiff | null
}

export interface CredentialRenewal {
  readonly peerId: string
  readonly memberId: string
  readonly roles: readonly string[]
  readonly notAfter: number
  /** True for this node's own credential, false for a peer's. */
  readonly local: boolean
}

/** A roster epoch gave protocols back on a peer's existing connections (to its roles or to this node's). */
export interface ProtocolsWidened {
  readonly peerId: string
  readonly memberId: string
  readonly epoch: number
  /** Protocols this node handles that the connection may now carry, in at least one direction. */
  readonly protocols: readonly string[]
}

/** A `policy-warning`: a protocol this node registered that the roster epoch leaves unusable. */
export type PolicyWarningEvent = PolicyWarning & { readonly epoch: number }

/** Handler for a chain protocol: called only for peers whose roles the roster allows on it. */
export type FederationStreamHandler = (stream: Stream, connection: Connection, peer: AdmittedPeer) => void | Promise<void>

/** Events a federation gate dispatches (each also written to the log and counted). */
export interface FederationEvents {
  'admitted': CustomEvent<AdmittedPeer>
  'refused': CustomEvent<Refusal>
  'disconnected': CustomEvent<Disconnect>
  'stream-reset': CustomEvent<Refusal>
  'roster': CustomEvent<RosterChange>
  'roster-refused': CustomEvent<RosterRefusal>
  'credential-renewed': CustomEvent<CredentialRenewal>
  'policy-warning': CustomEvent<PolicyWarningEvent>
  'protocols-widened': CustomEvent<ProtocolsWidened>
}

/** What the operator surface (admin endpoint, CLI, demo) reads from a running node. */
export interface FederationNodeView {
  readonly libp2p: Libp2p
  readonly peerId: string
  readonly store: RosterStore
  readonly roster: Roster
  readonly credential: Credential
  readonly localRoles: readonly string[]
  peers (): AdmittedPeer[]
  refusals (): Refusal[]
}
