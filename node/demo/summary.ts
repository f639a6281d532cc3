import type { ReasonCode } from '../../membership/index.ts'

/** What `fedgate demo --json` prints. Every duration is measured, in milliseconds. */
export interface DemoSummary {
  readonly federation: string
  /** Where the federation's files were kept (`--keep DIR`), or null when they were removed. */
  readonly kept: string | null
  readonly elapsedMs: number
  readonly setup: SetupSummary
  readonly nodes: readonly NodeSummary[]
  /** The validators' full mesh: one connection per pair. */
  readonly mesh: { readonly validators: readonly string[], readonly connections: readonly LinkSummary[] }
  /** The other roles, each admitted by the node it dialled. */
  readonly admitted: readonly LinkSummary[]
  /** Dials that fedgate refused. */
  readonly refused: readonly RefusalSummary[]
  /** Chain protocol streams opened on admitted connections. */
  readonly protocols: readonly ProtocolSummary[]
  readonly revocation: RevocationSummary
  /** Who holds an admitted connection to whom at the end: `connected[i][j]` is node i's view of node j. */
  readonly table: { readonly names: readonly string[], readonly connected: ReadonlyArray<readonly boolean[]> }
}

export interface SetupSummary {
  readonly dir: string
  readonly admins: number
  readonly threshold: number
  readonly members: number
  readonly rosterEpoch: number
  readonly signedBy: readonly string[]
  readonly protocols: Readonly<Record<string, readonly string[]>>
  readonly keyFiles: number
  readonly credentials: number
  readonly configs: number
  readonly ms: number
}

export interface NodeSummary {
  readonly name: string
  /** `fedgate` for fedgate nodes, `stock-libp2p` for the intruder. */
  readonly kind: 'fedgate' | 'stock-libp2p'
  readonly memberId: string | null
  readonly roles: readonly string[]
  readonly peerId: string
  readonly listen: string | null
  readonly config: string | null
  /** The admin endpoint (HOST:PORT) in its config; the demo itself runs the nodes without one. */
  readonly admin: string | null
  readonly startMs: number
}

export interface LinkSummary {
  readonly from: string
  readonly to: string
  /** The roles `to` admitted `from` in, as its peers() reports them. */
  readonly roles: readonly string[]
  /** From the dial until both sides list each other as admitted. */
  readonly ms: number
}

export interface RefusalSummary {
  readonly name: string
  readonly target: string
  /** What the refused node is. */
  readonly what: string
  /** `name` of the error the dial rejected with, or null when the dialler's side of the upgrade finished before the target refused it. */
  readonly dialError: string | null
  /** The dial error's message, as libp2p reports it. */
  readonly dialMessage: string | null
  /** The reason code: from the dial error (refusalOf), else from the target's record; null when neither has one. */
  readonly code: ReasonCode | null
  readonly by: 'local' | 'remote' | null
  /** The code the target recorded in its refusals(), null when it recorded none. */
  readonly targetCode: ReasonCode | null
  /** Connections the target's libp2p opened from the refused peer (0: refused before any connection existed). */
  readonly targetConnections: number
  readonly ms: number
}

export interface ProtocolSummary {
  readonly from: string
  readonly to: string
  readonly protocol: string
  readonly outcome: 'reached' | 'reset'
  /** The code of the stream reset `to` recorded, null when the stream reached the handler. */
  readonly code: ReasonCode | null
  /** How often `to`'s handler for this protocol ran for this stream (0 or 1). */
  readonly handlerCalls: number
  /** Whether `from` was still admitted by `to` afterwards. */
  readonly connectionKept: boolean
  readonly ms: number
}

export interface DropSummary {
  /** The node whose connection closed. */
  readonly node: string
  /** The node at the other end. */
  readonly peer: string
  readonly code: string
  /** From the start of the roster file writes until this node saw the connection close. */
  readonly ms: number
}

export interface RevocationSummary {
  readonly member: string
  readonly epoch: number
  readonly previousEpoch: number
  readonly signedBy: readonly string[]
  readonly threshold: number
  /** Node roster files replaced. */
  readonly rosterFiles: number
  /** Nodes running the new epoch afterwards. */
  readonly acceptedBy: readonly string[]
  /** Each node that held a connection to the revoked member, dropping it. */
  readonly drops: readonly DropSummary[]
  /** The revoked member's own side of those connections. */
  readonly revokedSide: readonly DropSummary[]
  /** From the start of the roster file writes until the last of those connections closed. */
  readonly latencyMs: number
  /** The revoked node dialling again. */
  readonly redial: { readonly from: string, readonly to: string, readonly code: ReasonCode | null, readonly targetCode: ReasonCode | null }
}
