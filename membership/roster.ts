import { sha256, bytesToHex, utf8Length } from './bytes.ts'
import { MalformedError, RosterRefusedError } from './errors.ts'
import { deepFreeze } from './freeze.ts'
import { parsePolicy, type Policy } from './policy.ts'
import { canonicalBytes, fingerprint, signingMessage, verifySignature, type SignatureVerifier } from './signing.ts'
import {
  arr, fields, int, obj, secp256k1PublicKeyHex, str, strSet, timestamp,
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

/** What deciding on a successor needs of the accepted epoch. */
export interface RosterHead {
  readonly federation: string
  readonly epoch: number
  readonly admins: AdminSet
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

/** The largest roster accepted from any source (file, publish, a peer): about 200k members. */
export const MAX_ROSTER_BYTES = 64 * 1024 * 1024
export const MAX_MEMBERS = 200_000
export const MAX_ADMINS = 64
const MAX_ADDRS = 16
const ROSTER_FIELDS = ['federation', 'epoch', 'issuedAt', 'roles', 'admins', 'members', 'revoked', 'policy', 'signatures'] as const
const MEMBER_FIELDS = ['id', 'roles', 'key'] as const
const MEMBER_OPTIONAL = ['org', 'addrs', 'maxConnections'] as const

/**
 * An immutable, strictly validated roster epoch with its lookup indexes. Its document is a deep-frozen
 * copy of the input, so changing the input afterwards changes nothing here. Constructing one checks
 * the format only; whether its signatures are good enough is `acceptRoster`'s job.
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
  #fingerprint?: string
  #message?: Uint8Array

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
    if (text.length > MAX_ROSTER_BYTES || (text.length * 3 > MAX_ROSTER_BYTES && utf8Length(text) > MAX_ROSTER_BYTES)) {
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
    // One key, one role: a key that signs epochs must not also sign credentials, nor one key for two members.
    const keyUses = new Map<string, string>(admins.keys.map((key, i) => [key, `admin key $.admins.keys[${i}]`]))
    const memberList = arr(doc.members, '$.members', MAX_MEMBERS).map((value, i) => {
      const path = `$.members[${i}]`
      const member = parseMember(value, path, roleSet)
      if (members.has(member.id)) throw new MalformedError(`${path}.id`, `duplicate member id ${JSON.stringify(member.id)}`)
      const other = keyUses.get(member.key)
      if (other !== undefined) {
        throw new MalformedError(`${path}.key`, `the key of member ${JSON.stringify(member.id)} is already the ${other}; one key may serve one role only: give the member its own key (fedgate keygen member)`)
      }
      members.set(member.id, member)
      keyUses.set(member.key, `member key of ${JSON.stringify(member.id)} ($.members[${i}].key)`)
      return member
    })
    const revoked = parseRevocations(doc.revoked)
    const policy = parsePolicy(doc.policy, '$.policy', roleSet)
    const signatures = parseSignatures(doc.signatures)
    const document: RosterDocument = Object.freeze({
      federation,
      epoch,
      issuedAt,
      roles: Object.freeze(roles),
      admins,
      members: Object.freeze(memberList),
      revoked,
      policy: deepFreeze(structuredClone(doc.policy as JsonObject)),
      signatures
    })
    return new Roster(document, policy, members)
  }

  get admins (): AdminSet {
    return this.document.admins
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
    this.#fingerprint ??= fingerprint(this.document)
    return this.#fingerprint
  }

  /** The 32-byte message admins sign: the roster without its signatures, domain-separated. */
  get signingMessage (): Uint8Array {
    if (this.#message === undefined) {
      const { signatures: _signatures, ...unsigned } = this.document
      this.#message = signingMessage('roster', unsigned)
    }
    return this.#message
  }

  /** A hash of the content admins sign: the same before and after signatures are added. */
  get contentHash (): string {
    return bytesToHex(this.signingMessage)
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

/** Hex SHA-256 of an admin set's canonical form: what an operator pins as the trust root. */
export function adminSetFingerprint (admins: AdminSet): string {
  return bytesToHex(sha256(canonicalBytes({ threshold: admins.threshold, keys: [...admins.keys].sort() })))
}

function parseAdmins (value: unknown): AdminSet {
  const doc = obj(value, '$.admins')
  fields(doc, '$.admins', ['threshold', 'keys'])
  const keys = strSet(doc.keys, '$.admins.keys', MAX_ADMINS, secp256k1PublicKeyHex)
  if (keys.length === 0) throw new MalformedError('$.admins.keys', 'at least one admin key is required')
  const threshold = int(doc.threshold, '$.admins.threshold', 1, keys.length)
  return Object.freeze({ threshold, keys: Object.freeze(keys) })
}

function parseMember (value: unknown, path: string, roles: ReadonlySet<string>): Member {
  const doc = obj(value, path)
  fields(doc, path, MEMBER_FIELDS, MEMBER_OPTIONAL)
  const id = str(doc.id, `${path}.id`, { max: 64, pattern: ID, hint: 'letters, digits, dot, dash, underscore; at most 64' })
  // Fields in the order the file shows them: id, org, roles, key, addrs, maxConnections.
  const member: { -readonly [K in keyof Member]: Member[K] } = doc.org === undefined
    ? { id, roles: [], key: '' }
    : { id, org: str(doc.org, `${path}.org`, { max: 64, pattern: ID }), roles: [], key: '' }
  member.roles = Object.freeze(strSet(doc.roles, `${path}.roles`, 64, (v, p) => {
    const role = str(v, p, { max: 32 })
    if (!roles.has(role)) throw new MalformedError(p, `unknown role ${JSON.stringify(role)} (the roster declares: ${[...roles].join(', ')})`)
    return role
  }))
  if (member.roles.length === 0) throw new MalformedError(`${path}.roles`, 'a member needs at least one role')
  member.key = secp256k1PublicKeyHex(doc.key, `${path}.key`)
  if (doc.addrs !== undefined) {
    member.addrs = Object.freeze(strSet(doc.addrs, `${path}.addrs`, MAX_ADDRS, (v, p) => str(v, p, { max: 512, pattern: /^\/\S+$/, hint: 'a multiaddr such as /ip4/10.0.0.1/tcp/4001/p2p/12D3Koo...' })))
  }
  if (doc.maxConnections !== undefined) member.maxConnections = int(doc.maxConnections, `${path}.maxConnections`, 1, 65_536)
  return Object.freeze(member)
}

function parseRevocations (value: unknown): readonly Revocation[] {
  const list = arr(value, '$.revoked', MAX_MEMBERS)
  const seen = new Set<string>()
  return Object.freeze(list.map((entry, i) => {
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
    return Object.freeze(revocation)
  }))
}

function parseSignatures (value: unknown): readonly RosterSignature[] {
  const list = arr(value, '$.signatures', MAX_ADMINS)
  const seen = new Set<string>()
  return Object.freeze(list.map((entry, i) => {
    const path = `$.signatures[${i}]`
    const doc = obj(entry, path)
    fields(doc, path, ['key', 'sig'])
    const key = secp256k1PublicKeyHex(doc.key, `${path}.key`)
    const sig = str(doc.sig, `${path}.sig`, { min: 128, max: 128, pattern: HEX_SIG, hint: 'a compact secp256k1 signature: 128 lowercase hex characters' })
    if (seen.has(key)) throw new MalformedError(`${path}.key`, 'a second signature by the same admin key')
    seen.add(key)
    return Object.freeze({ key, sig })
  }))
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
export function acceptRoster (current: RosterHead | null, next: Roster, verify: SignatureVerifier = verifySignature): void {
  if (current !== null) {
    if (next.federation !== current.federation) {
      throw new RosterRefusedError('federation-mismatch', `roster is for federation ${JSON.stringify(next.federation)}, the accepted roster is for ${JSON.stringify(current.federation)}`)
    }
    if (next.epoch <= current.epoch) {
      throw new RosterRefusedError('roster-stale', `epoch ${next.epoch} is not newer than the accepted epoch ${current.epoch}`)
    }
  }
  const admins = current?.admins ?? next.document.admins
  const { valid, bad, outsiders } = countSignatures(next, admins, verify)
  if (bad.length > 0) {
    throw new RosterRefusedError('bad-signature', `signature by admin ${bad[0]} does not verify over epoch ${next.epoch}; the roster was changed after signing or the signature is forged`)
  }
  if (valid.length < admins.threshold) {
    const whose = current === null ? 'its own admin set (genesis)' : `the admin set of accepted epoch ${current.epoch}`
    const extra = outsiders.length > 0 ? `; ${outsiders.length} signature(s) are by keys outside that admin set and do not count` : ''
    // Past a gap, the signers may be admins that a skipped epoch appointed: then that epoch is what is missing.
    const gap = current !== null && next.epoch > current.epoch + 1
      ? `; epoch${next.epoch > current.epoch + 2 ? `s ${current.epoch + 1} to ${next.epoch - 1} are` : ` ${current.epoch + 1} is`} missing here: if the admins changed in between, apply the missing epochs first, in order`
      : ''
    throw new RosterRefusedError('threshold-not-met', `epoch ${next.epoch} has ${valid.length} valid signature(s), ${whose} requires ${admins.threshold}${extra}${gap}`)
  }
}
