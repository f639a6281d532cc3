import {
  allowProtocol, initRoster, issueCredential, Roster, setPolicy, signRoster,
  type Credential, type Member, type NodeKeyType, type SigningKey
} from '../../membership/index.ts'
import type { NodeKey } from '../node-key.ts'
import { FederationKeys } from './keys.ts'

export const DEFAULT_ADMIN_COUNT = 3
export const DEFAULT_ADMIN_THRESHOLD = 2

/** A roster's `policy.protocols`: the roles that may open each protocol. */
export type ProtocolTable = Readonly<Record<string, readonly string[]>>

/** A roster member, before it has a member key. */
export interface MemberSpec {
  readonly id: string
  readonly roles: readonly string[]
  readonly org?: string
  readonly addrs?: readonly string[]
  readonly maxConnections?: number
}

export interface FederationBuilderInit {
  readonly federation: string
  /** Members of the genesis roster, in order; each gets its own member key. @default [] */
  readonly members?: readonly MemberSpec[]
  /** Genesis `policy.protocols`. @default {} */
  readonly protocols?: ProtocolTable
  /** Further genesis policy fields, e.g. `{ clockSkew: '0s', limits: { handshakeTimeout: '1s' } }`. */
  readonly policy?: Readonly<Record<string, unknown>>
  /** How many admin keys there are. @default DEFAULT_ADMIN_COUNT */
  readonly admins?: number
  /** How many admin signatures each epoch needs. @default DEFAULT_ADMIN_THRESHOLD (capped at `admins`) */
  readonly threshold?: number
  /** The roster's role set. @default STANDARD_ROLES */
  readonly roles?: readonly string[]
  /** Where the keys come from (a seeded FederationKeys makes the whole federation reproducible). @default random keys */
  readonly keys?: FederationKeys
  /** The genesis roster's issuedAt. @default now */
  readonly now?: number
}

export interface EpochOptions {
  /** Who signs: the first N admins, or these admin keys. @default the threshold */
  readonly signers?: number | readonly SigningKey[]
  /** The epoch to edit. @default the latest committed epoch */
  readonly from?: Roster
}

export interface IssueOptions {
  /** The member whose key signs the credential. */
  readonly member: string
  /** The node whose key the credential binds (made on first use). @default the member id */
  readonly node?: string
  /** The node key type, when the node key is made now. @default Ed25519 */
  readonly nodeKeyType?: NodeKeyType
  /** Bind this PeerId instead of a node key's. */
  readonly peer?: string
  /** @default all the member's roles */
  readonly roles?: readonly string[]
  /** @default now */
  readonly notBefore?: number
  /** @default 24 h */
  readonly ttlMs?: number
  readonly serial?: string
  /** The clock issueCredential checks notBefore against. @default Date.now() */
  readonly now?: number
  /** The roster that lists the member. @default the latest committed epoch */
  readonly roster?: Roster
}

/**
 * A whole federation in memory, for tests, the demo and the benchmarks: k-of-n admins, a member key
 * per member, node keys, signed roster epochs and credentials. Write its files with ./files.ts.
 *
 *   const fed = createFederationBuilder({ federation: 'f', members: [{ id: 'val-1', roles: ['validator'] }] })
 *   const credential = await fed.issue({ member: 'val-1' })   // for node key "val-1"
 *   fed.commit(fed.nextEpoch(r => revoke(r, { member: 'val-1' })))
 */
export class FederationBuilder {
  readonly federation: string
  readonly keys: FederationKeys
  readonly admins: readonly SigningKey[]
  readonly threshold: number
  /** The genesis roster before any admin signed it. */
  readonly genesisDraft: Roster
  private latest: Roster

  constructor (init: FederationBuilderInit) {
    const count = init.admins ?? DEFAULT_ADMIN_COUNT
    this.federation = init.federation
    this.keys = init.keys ?? new FederationKeys()
    this.admins = Array.from({ length: count }, (_, i) => this.keys.signingKey('admin', String(i + 1)))
    this.threshold = init.threshold ?? Math.min(DEFAULT_ADMIN_THRESHOLD, count)
    const now = init.now ?? Date.now()
    const empty = initRoster({ federation: init.federation, admins: this.admins.map(a => a.publicKey), threshold: this.threshold, roles: init.roles, now })
    // All members in one step (as addMember one by one would list them), so a large roster takes linear time.
    let draft = Roster.fromJSON({ ...empty.document, members: (init.members ?? []).map(spec => this.memberEntry(spec)) })
    for (const [protocol, roles] of Object.entries(init.protocols ?? {})) draft = allowProtocol(draft, protocol, roles, now)
    for (const [key, value] of Object.entries(init.policy ?? {})) draft = setPolicy(draft, key, value, now)
    this.genesisDraft = draft
    this.latest = this.sign(draft)
  }

  /** The latest committed epoch: the signed genesis until `commit` moves it on. */
  get roster (): Roster {
    return this.latest
  }

  /** The member key of `id` (members added in later epochs get one too). */
  memberKey (id: string): SigningKey {
    return this.keys.signingKey('member', id)
  }

  /** A roster member entry for `spec`, carrying its member key, for `addMember`. */
  memberEntry (spec: MemberSpec): Member {
    const { id, org, roles, addrs, maxConnections } = spec
    // Only the member fields: a spec may be a wider object (a test's member plan, say).
    return {
      id,
      ...(org === undefined ? {} : { org }),
      roles: [...roles],
      key: this.memberKey(id).publicKey,
      ...(addrs === undefined ? {} : { addrs: [...addrs] }),
      ...(maxConnections === undefined ? {} : { maxConnections })
    }
  }

  /** The node key named `name`. */
  async nodeKey (name: string, type?: NodeKeyType): Promise<NodeKey> {
    return await this.keys.nodeKey(name, type)
  }

  /** `draft` with signatures of the first `signers` admins (or of those keys). */
  sign (draft: Roster, signers: number | readonly SigningKey[] = this.threshold): Roster {
    const keys = typeof signers === 'number' ? this.admins.slice(0, signers) : signers
    return keys.reduce((roster, admin) => signRoster(roster, admin), draft)
  }

  /** `edit` applied to the latest epoch (or `from`) and signed: the next epoch, not yet committed. */
  nextEpoch (edit: (roster: Roster) => Roster, opts: EpochOptions = {}): Roster {
    return this.sign(edit(opts.from ?? this.latest), opts.signers)
  }

  /** Makes `roster` the latest epoch, which credentials and next epochs then start from. */
  commit (roster: Roster): Roster {
    this.latest = roster
    return roster
  }

  /** A credential signed by the member's key, binding a node key (or a given PeerId). */
  async issue (opts: IssueOptions): Promise<Credential> {
    const peer = opts.peer ?? (await this.nodeKey(opts.node ?? opts.member, opts.nodeKeyType)).peerId
    return issueCredential({
      roster: opts.roster ?? this.latest,
      memberKey: this.memberKey(opts.member),
      memberId: opts.member,
      peer,
      roles: opts.roles,
      notBefore: opts.notBefore,
      ttlMs: opts.ttlMs,
      serial: opts.serial,
      now: opts.now,
      // Test federations issue what a node must refuse, e.g. a credential of a revoked member.
      force: true
    })
  }
}

export function createFederationBuilder (init: FederationBuilderInit): FederationBuilder {
  return new FederationBuilder(init)
}
