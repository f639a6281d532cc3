import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { Credential, ReasonCode, Roster, RosterStore } from '../membership/index.ts'

/** A peer that passed the membership exchange and holds a live connection. */
export interface AdmittedPeer {
  readonly peerId: string
  readonly memberId: string
  readonly roles: readonly string[]
  readonly direction: 'inbound' | 'outbound'
  /** When the (first live) connection was admitted, ms since epoch. */
  readonly since: number
  readonly credential: Credential
  /** The roster epoch the peer said it ran when it was admitted. */
  readonly rosterEpoch: number
  readonly remoteAddr: string
}

/** A refused handshake, stream or connection, kept in a bounded ring for `/status`. */
export interface Refusal {
  readonly code: ReasonCode
  /** Which side decided: this node (`local`) or the peer told us (`remote`). */
  readonly by: 'local' | 'remote'
  readonly stage: 'accept' | 'handshake' | 'gate' | 'stream' | 'live'
  readonly direction: 'inbound' | 'outbound'
  readonly peerId?: string
  readonly memberId?: string
  readonly remoteAddr?: string
  readonly protocol?: string
  /** ms since epoch */
  readonly at: number
}

/** Handler for a chain protocol: called only for peers whose roles the roster allows on it. */
export type FederationStreamHandler = (stream: Stream, connection: Connection, peer: AdmittedPeer) => void | Promise<void>

/** Events a federation node emits (EventEmitter), each also written to the audit log and counted. */
export interface FederationNodeEvents {
  admitted: [AdmittedPeer]
  refused: [Refusal]
  disconnected: [{ peerId: string, memberId?: string, code: ReasonCode, remoteAddr?: string, at: number }]
  'stream-reset': [Refusal]
  roster: [{ epoch: number, previousEpoch: number | null, dropped: number }]
  'roster-refused': [{ code: ReasonCode, message: string, source: string }]
  'credential-renewed': [{ peerId: string, memberId: string, notAfter: number, local: boolean }]
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
