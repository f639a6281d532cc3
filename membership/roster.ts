import { MalformedError, RosterEditError, RosterRefusedError } from './errors.ts'
import { DEFAULT_ACCEPTS, DEFAULT_CLOCK_SKEW, DEFAULT_CREDENTIAL_MAX_TTL, parsePolicy, STANDARD_ROLES, type Policy } from './policy.ts'
import { fingerprint, signingMessage, signMessage, verifySignature, type SignatureVerifier } from './signing.ts'
import type { SigningKey } from './keys.ts'
import {
  arr, fields, int, isoTime, obj, secp256k1PublicKeyHex, str, strSet, timestamp,
  HEX_SHA256, HEX_SIG, ID, PEER_ID, ROLE, type JsonObject
} from './validate.ts'

export interface Member {
  readonly id: string
  readonly org?: string
  readonly roles: readonly string[]
  /** Compressed secp256k1 member key that signs this member's credentials. */
  readonly key: string
  readonly addrs?: readonly string[]
  readonly maxConnections?: number
}

export type Revocation =
  | { readonly credential: string }
  | { readonly peer: string }
  | { readonly member: string }

export interface AdminSet {
  readonly threshold: number
  readonly keys: readonly string[]
}

export interface RosterSignature {
  readonly key: string
  readonly sig: string
}

/** The roster as it is stored on disk and signed. */
export interface RosterDocument {
  readonly federation: string
  readonly epoch: number
  readonly issuedAt: string
  readonly roles: readonly string[]
  readonly admins: AdminSet
  readonly members: readonly Member[]
  readonly revoked: readonly Revocation[]
  readonly policy: JsonObject
  readonly signatures: readonly RosterSignature[]
}

export const MAX_ROSTER_BYTES = 256 * 1024 * 1024
export const MAX_MEMBERS = 1_000_000
export const MAX_ADMINS = 64
const MAX_ADDRS = 16
const ROSTER_FIELDS = ['federation', 'epoch', 'issuedAt', 'roles', 'admins', 'members', 'revoked', 'policy', 'signatures'] as const
const MEMBER_FIELDS = ['id', 'roles', 'key'] as const
const MEMBER_OPTIONAL = ['org', 'addrs', 'maxConnections'] as const

/**
 * An immutable, strictly validated roster epoch with its lookup indexes. Constructing one checks the
 * format only; whether its signatures are good enough is `acceptRoster`'s job.
 */
export class Roster {
  readonly document: RosterDocument
  readonly federation: string
  readonly epoch: number
  readonly issuedAtMs: number
  readonly roles: ReadonlySet<string>
  readonly policy: Policy
  readonly members: ReadonlyMap<string, Member>
  readonly revokedMembers: ReadonlySet<string>
  readonly revokedPeers: ReadonlySet<string>
  readonly revokedCredentials: ReadonlySet<string>
  private cachedFingerprint?: string
  private cachedMessage?: Uint8Array

  private constructor (document: RosterDocument, policy: Policy, members: Map<string, Member>) {
    this.document = document
    this.federation = document.federation
    this.epoch = document.epoch
    this.issuedAtMs = Date.parse(document.issuedAt)
    this.roles = new Set(document.roles)
    this.policy = policy
    this.members = members
    const revokedMembers = new Set<string>()
    const revokedPeers = new Set<string>()
    const revokedCredentials = new Set<string>()
    for (const r of document.revoked) {
      if ('member' in r) revokedMembers.add(r.member)
      else if ('peer' in r) revokedPeers.add(r.peer)
      else revokedCredentials.add(r.credential)
    }
    this.revokedMembers = revokedMembers
    this.revokedPeers = revokedPeers
    this.revokedCredentials = revokedCredentials
  }

  /** Parses roster JSON text, strictly. Throws MalformedError naming the JSON path. */
  static parse (text: string): Roster {
    if (text.length > MAX_ROSTER_BYTES || Buffer.byteLength(text) > MAX_ROSTER_BYTES) {
      throw new MalformedError('$', `roster is larger than ${MAX_ROSTER_BYTES} bytes`)
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new MalformedError('$', `not valid JSON (${(err as Error).message}); the file may be truncated or half-written`)
    }
    return Roster.fromJSON(json)
  }

  /** Validates a parsed JSON value as a roster. Throws MalformedError naming the JSON path. */
  static fromJSON (json: unknown): Roster {
    const doc = obj(json, '$')
    fields(doc, '$', ROSTER_FIELDS)
    const federation = str(doc.federation, '$.federation', { max: 64, pattern: ID, hint: 'letters, digits, dot, dash, underscore' })
    const epoch = int(doc.epoch, '$.epoch', 1)
    const issuedAt = str(doc.issuedAt, '$.issuedAt', { max: 30 })
    timestamp(issuedAt, '$.issuedAt')
    const roles = strSet(doc.roles, '$.roles', 64, (v, p) => str(v, p, { max: 32, pattern: ROLE, hint: 'lowercase letters, digits and dashes' }))
    if (roles.length === 0) throw new MalformedError('$.roles', 'declare at least one role')
    const roleSet = new Set(roles)
    const admins = parseAdmins(doc.admins)
    const members = new Map<string, Member>()
    const memberKeys = new Map<string, string>()
    const memberList = arr(doc.members, '$.members', MAX_MEMBERS)
    for (let i = 0; i < memberList.length; i++) {
      const path = `$.members[${i}]`
      const member = parseMember(memberList[i], path, roleSet)
      if (members.has(member.id)) throw new MalformedError(`${path}.id`, `duplicate member id ${JSON.stringify(member.id)}`)
      const other = memberKeys.get(member.key)
      if (other !== undefined) throw new MalformedError(`${path}.key`, `key already used by member ${JSON.stringify(other)}; every member needs its own key`)
      members.set(member.id, member)
      memberKeys.set(member.key, member.id)
    }
    const revoked = parseRevocations(doc.revoked)
    const policy = parsePolicy(doc.policy, '$.policy', roleSet)
    const signatures = parseSignatures(doc.signatures)
    const document: RosterDocument = {
      federation,
      epoch,
      issuedAt,
      roles,
      admins,
      members: memberList as Member[],
      revoked,
      policy: doc.policy as JsonObject,
      signatures
    }
    return new Roster(document, policy, members)
  }

  /** The stored form: pretty-printed JSON with a trailing newline. */
  encode (): string {
    return JSON.stringify(this.document, null, 2) + '\n'
  }

  toJSON (): RosterDocument {
    return this.document
  }

  /** Hex SHA-256 of the canonical signed roster. */
  get fingerprint (): string {
    this.cachedFingerprint ??= fingerprint(this.document)
    return this.cachedFingerprint
  }

  /** The 32-byte message admins sign: the roster without its signatures, domain-separated. */
  get signingMessage (): Uint8Array {
    if (this.cachedMessage === undefined) {
      const { signatures: _signatures, ...unsigned } = this.document
      this.cachedMessage = signingMessage('roster', unsigned)
    }
    return this.cachedMessage
  }

  get signed (): boolean {
    return this.document.signatures.length > 0
  }

  member (id: string): Member | undefined {
    return this.members.get(id)
  }

  /** Connections one member may hold on a node. */
  memberLimit (id: string): number {
    return this.members.get(id)?.maxConnections ?? this.policy.limits.maxConnectionsPerMember
  }
}

function parseAdmins (value: unknown): AdminSet {
  const doc = obj(value, '$.admins')
  fields(doc, '$.admins', ['threshold', 'keys'])
  const keys = strSet(doc.keys, '$.admins.keys', MAX_ADMINS, secp256k1PublicKeyHex)
  if (keys.length === 0) throw new MalformedError('$.admins.keys', 'at least one admin key is required')
  const threshold = int(doc.threshold, '$.admins.threshold', 1, keys.length)
  return { threshold, keys }
}

function parseMember (value: unknown, path: string, roles: ReadonlySet<string>): Member {
  const doc = obj(value, path)
  fields(doc, path, MEMBER_FIELDS, MEMBER_OPTIONAL)
  str(doc.id, `${path}.id`, { max: 64, pattern: ID, hint: 'letters, digits, dot, dash, underscore; at most 64' })
  if (doc.org !== undefined) str(doc.org, `${path}.org`, { max: 64, pattern: ID })
  const memberRoles = strSet(doc.roles, `${path}.roles`, 64, (v, p) => {
    const role = str(v, p, { max: 32 })
    if (!roles.has(role)) throw new MalformedError(p, `unknown role ${JSON.stringify(role)} (the roster declares: ${[...roles].join(', ')})`)
    return role
  })
  if (memberRoles.length === 0) throw new MalformedError(`${path}.roles`, 'a member needs at least one role')
  secp256k1PublicKeyHex(doc.key, `${path}.key`)
  if (doc.addrs !== undefined) {
    strSet(doc.addrs, `${path}.addrs`, MAX_ADDRS, (v, p) => str(v, p, { max: 512, pattern: /^\/\S+$/, hint: 'a multiaddr such as /ip4/10.0.0.1/tcp/4001/p2p/12D3Koo...' }))
  }
  if (doc.maxConnections !== undefined) int(doc.maxConnections, `${path}.maxConnections`, 1, 65_536)
  return doc as unknown as Member
}

function parseRevocations (value: unknown): Revocation[] {
  const list = arr(value, '$.revoked', MAX_MEMBERS)
  const seen = new Set<string>()
  return list.map((entry, i) => {
    const path = `$.revoked[${i}]`
    const doc = obj(entry, path)
    const keys = Object.keys(doc)
    if (keys.length !== 1 || !['credential', 'peer', 'member'].includes(keys[0] ?? '')) {
      throw new MalformedError(path, 'expected exactly one of {"credential": FINGERPRINT}, {"peer": PEERID}, {"member": ID}')
    }
    let revocation: Revocation
    if ('credential' in doc) revocation = { credential: str(doc.credential, `${path}.credential`, { min: 64, max: 64, pattern: HEX_SHA256, hint: 'a credential fingerprint: 64 hex characters' }) }
    else if ('peer' in doc) revocation = { peer: str(doc.peer, `${path}.peer`, { max: 64, pattern: PEER_ID, hint: 'a PeerId such as 12D3KooW...' }) }
    else revocation = { member: str(doc.member, `${path}.member`, { max: 64, pattern: ID }) }
    const key = JSON.stringify(revocation)
    if (seen.has(key)) throw new MalformedError(path, `duplicate revocation ${key}`)
    seen.add(key)
    return revocation
  })
}

function parseSignatures (value: unknown): RosterSignature[] {
  const list = arr(value, '$.signatures', MAX_ADMINS)
  const seen = new Set<string>()
  return list.map((entry, i) => {
    const path = `$.signatures[${i}]`
    const doc = obj(entry, path)
    fields(doc, path, ['key', 'sig'])
    const key = secp256k1PublicKeyHex(doc.key, `${path}.key`)
    const sig = str(doc.sig, `${path}.sig`, { min: 128, max: 128, pattern: HEX_SIG, hint: 'a compact secp256k1 signature: 128 lowercase hex characters' })
    if (seen.has(key)) throw new MalformedError(`${path}.key`, 'a second signature by the same admin key')
    seen.add(key)
    return { key, sig }
  })
}

/** How many of `admins` validly signed `roster`, and which signatures are by others or are bad. */
export function countSignatures (roster: Roster, admins: AdminSet, verify: SignatureVerifier = verifySignature): { valid: string[], bad: string[], outsiders: string[] } {
  const adminKeys = new Set(admins.keys)
  const valid: string[] = []
  const bad: string[] = []
  const outsiders: string[] = []
  for (const { key, sig } of roster.document.signatures) {
    if (!adminKeys.has(key)) outsiders.push(key)
    else if (verify(roster.signingMessage, sig, key)) valid.push(key)
    else bad.push(key)
  }
  return { valid, bad, outsiders }
}

/**
 * Decides whether `next` may replace `current`: same federation, a higher epoch, and a threshold of
 * valid signatures by the admin set of `current`. With no current roster (genesis, pinned on first
 * use) the roster's own admin set is the trust root. Throws RosterRefusedError with a reason code.
 */
export function acceptRoster (current: Roster | null, next: Roster, verify: SignatureVerifier = verifySignature): void {
  if (current !== null) {
    if (next.federation !== current.federation) {
      throw new RosterRefusedError('federation-mismatch', `roster is for federation ${JSON.stringify(next.federation)}, the accepted roster is for ${JSON.stringify(current.federation)}`)
    }
    if (next.epoch <= current.epoch) {
      throw new RosterRefusedError('roster-stale', `epoch ${next.epoch} is not newer than the accepted epoch ${current.epoch}`)
    }
  }
  const admins = current?.document.admins ?? next.document.admins
  const { valid, bad, outsiders } = countSignatures(next, admins, verify)
  if (bad.length > 0) {
    throw new RosterRefusedError('bad-signature', `signature by admin ${bad[0]} does not verify over epoch ${next.epoch}; the roster was changed after signing or the signature is forged`)
  }
  if (valid.length < admins.threshold) {
    const whose = current === null ? 'its own admin set (genesis)' : `the admin set of accepted epoch ${current.epoch}`
    const extra = outsiders.length > 0 ? `; ${outsiders.length} signature(s) are by keys outside that admin set and do not count` : ''
    throw new RosterRefusedError('threshold-not-met', `epoch ${next.epoch} has ${valid.length} valid signature(s), ${whose} requires ${admins.threshold}${extra}`)
  }
}

export interface InitRosterOptions {
  federation: string
  admins: readonly string[]
  threshold: number
  roles?: readonly string[]
  now?: number
}

/** A genesis roster (epoch 1, unsigned) with the default policy written out in full. */
export function initRoster (opts: InitRosterOptions): Roster {
  const roles = opts.roles ?? STANDARD_ROLES
  const accepts: Record<string, string[]> = {}
  for (const role of roles) {
    const list = DEFAULT_ACCEPTS[role]
    if (list !== undefined) accepts[role] = list.filter(r => roles.includes(r))
  }
  return Roster.fromJSON({
    federation: opts.federation,
    epoch: 1,
    issuedAt: isoTime(opts.now ?? Date.now()),
    roles,
    admins: { threshold: opts.threshold, keys: opts.admins },
    members: [],
    revoked: [],
    policy: { protocols: {}, accepts, credentialMaxTtl: DEFAULT_CREDENTIAL_MAX_TTL, clockSkew: DEFAULT_CLOCK_SKEW },
    signatures: []
  })
}

type Draft = { -readonly [K in keyof RosterDocument]: RosterDocument[K] }

/**
 * Applies an edit. Editing a roster that carries signatures yields the next epoch, unsigned; editing
 * an unsigned draft keeps its epoch. Every edit re-validates the whole roster.
 */
function edit (roster: Roster, now: number, change: (draft: Draft) => void): Roster {
  const draft: Draft = structuredClone(roster.document) as Draft
  if (roster.signed) draft.epoch = roster.epoch + 1
  draft.signatures = []
  draft.issuedAt = isoTime(now)
  change(draft)
  return Roster.fromJSON(draft)
}

export function addMember (roster: Roster, member: Member, now = Date.now()): Roster {
  if (roster.members.has(member.id)) throw new RosterEditError(`member ${JSON.stringify(member.id)} is already in the roster; remove it first to change it`)
  return edit(roster, now, d => { d.members = [...d.members, stripUndefined(member)] })
}

export function removeMember (roster: Roster, id: string, now = Date.now()): Roster {
  if (!roster.members.has(id)) throw new RosterEditError(`no member ${JSON.stringify(id)} in the roster (members: ${[...roster.members.keys()].slice(0, 10).join(', ')})`)
  return edit(roster, now, d => { d.members = d.members.filter(m => m.id !== id) })
}

export function revoke (roster: Roster, revocation: Revocation, now = Date.now()): Roster {
  const key = JSON.stringify(revocation)
  if (roster.document.revoked.some(r => JSON.stringify(r) === key)) throw new RosterEditError(`already revoked: ${key}`)
  return edit(roster, now, d => { d.revoked = [...d.revoked, revocation] })
}

/** Sets the roles allowed to open `protocol` (replacing any earlier entry). */
export function allowProtocol (roster: Roster, protocol: string, roles: readonly string[], now = Date.now()): Roster {
  return edit(roster, now, d => {
    const policy = structuredClone(d.policy)
    const protocols = obj(policy.protocols ?? {}, '$.policy.protocols')
    policy.protocols = { ...protocols, [protocol]: [...roles] }
    d.policy = policy
  })
}

/** Sets the roster policy field `key` (e.g. accepts, credentialMaxTtl) to `value`. */
export function setPolicy (roster: Roster, key: string, value: unknown, now = Date.now()): Roster {
  return edit(roster, now, d => { d.policy = { ...d.policy, [key]: value } })
}

/** Replaces the admin set: the current admins sign the epoch that names their successors. */
export function setAdmins (roster: Roster, admins: AdminSet, now = Date.now()): Roster {
  return edit(roster, now, d => { d.admins = admins })
}

/** Adds one admin signature. The roster content, and so its epoch, is unchanged. */
export function signRoster (roster: Roster, admin: SigningKey): Roster {
  if (admin.kind !== 'admin') throw new RosterEditError(`a roster is signed with an admin key, not a ${admin.kind} key`)
  if (roster.document.signatures.some(s => s.key === admin.publicKey)) throw new RosterEditError(`admin ${admin.publicKey} already signed epoch ${roster.epoch}`)
  const sig = signMessage(roster.signingMessage, admin.secretKey)
  return Roster.fromJSON({ ...roster.document, signatures: [...roster.document.signatures, { key: admin.publicKey, sig }] })
}

export interface MemberChange {
  readonly id: string
  readonly fields: readonly string[]
  readonly before: Member
  readonly after: Member
}

export interface PolicyChange {
  readonly path: string
  readonly before: unknown
  readonly after: unknown
}

export interface RosterDiff {
  readonly federation: string
  readonly fromEpoch: number
  readonly toEpoch: number
  readonly added: readonly Member[]
  readonly removed: readonly Member[]
  readonly changed: readonly MemberChange[]
  readonly revoked: readonly Revocation[]
  readonly unrevoked: readonly Revocation[]
  readonly policy: readonly PolicyChange[]
  readonly admins: { readonly before: AdminSet, readonly after: AdminSet } | null
  /** Members whose connections the new epoch drops or narrows: removed, revoked, or losing roles. */
  readonly drops: readonly string[]
}

/** What changes from `before` to `after`, and whom it drops. */
export function diffRosters (before: Roster, after: Roster): RosterDiff {
  const added: Member[] = []
  const removed: Member[] = []
  const changed: MemberChange[] = []
  const drops = new Set<string>()
  for (const [id, m] of after.members) {
    const old = before.members.get(id)
    if (old === undefined) { added.push(m); continue }
    const keys = new Set([...Object.keys(old), ...Object.keys(m)]) as Set<keyof Member>
    const diff = [...keys].filter(k => JSON.stringify(old[k]) !== JSON.stringify(m[k]))
    if (diff.length > 0) changed.push({ id, fields: diff, before: old, after: m })
    if (diff.includes('key') || old.roles.some(r => !m.roles.includes(r))) drops.add(id)
  }
  for (const [id, m] of before.members) {
    if (!after.members.has(id)) { removed.push(m); drops.add(id) }
  }
  const beforeRevoked = new Set(before.document.revoked.map(r => JSON.stringify(r)))
  const afterRevoked = new Set(after.document.revoked.map(r => JSON.stringify(r)))
  const revoked = after.document.revoked.filter(r => !beforeRevoked.has(JSON.stringify(r)))
  const unrevoked = before.document.revoked.filter(r => !afterRevoked.has(JSON.stringify(r)))
  for (const r of revoked) if ('member' in r && before.members.has(r.member)) drops.add(r.member)
  const policy: PolicyChange[] = []
  const pb = before.document.policy
  const pa = after.document.policy
  for (const key of new Set([...Object.keys(pb), ...Object.keys(pa)])) {
    const b = pb[key]
    const a = pa[key]
    if (JSON.stringify(b) === JSON.stringify(a)) continue
    if (isRecord(b) && isRecord(a)) {
      for (const sub of new Set([...Object.keys(b), ...Object.keys(a)])) {
        if (JSON.stringify(b[sub]) !== JSON.stringify(a[sub])) policy.push({ path: `policy.${key}[${JSON.stringify(sub)}]`, before: b[sub], after: a[sub] })
      }
    } else {
      policy.push({ path: `policy.${key}`, before: b, after: a })
    }
  }
  const adminsChanged = JSON.stringify(before.document.admins) !== JSON.stringify(after.document.admins)
  return {
    federation: after.federation,
    fromEpoch: before.epoch,
    toEpoch: after.epoch,
    added,
    removed,
    changed,
    revoked,
    unrevoked,
    policy,
    admins: adminsChanged ? { before: before.document.admins, after: after.document.admins } : null,
    drops: [...drops].sort()
  }
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function stripUndefined<T extends object> (value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
