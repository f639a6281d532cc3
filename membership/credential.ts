import { bytesToHex, randomBytes, fromUtf8, utf8Length } from './bytes.ts'
import { CredentialIssueError, MalformedError } from './errors.ts'
import type { SigningKey } from './keys.ts'
import { peerIdKeyType } from './peer-id.ts'
import type { Roster } from './roster.ts'
import { fingerprint, signingMessage, signMessage } from './signing.ts'
import { fields, int, isoTime, obj, str, strSet, timestamp, HEX_SIG, ID, PEER_ID } from './validate.ts'

/** Largest encoded credential accepted anywhere (file, hello, renewal). */
export const MAX_CREDENTIAL_BYTES = 2048
export const DEFAULT_CREDENTIAL_TTL_MS = 24 * 3_600_000
/** The credential format this code writes and reads. */
export const CREDENTIAL_VERSION = 1

const CREDENTIAL_FIELDS = ['version', 'federation', 'memberId', 'peer', 'roles', 'notBefore', 'notAfter', 'serial', 'signature'] as const
const SERIAL = /^[A-Za-z0-9_-]{1,64}$/

/** The signed fields of a credential, as stored (times as ISO-8601 UTC strings). */
export interface CredentialDocument {
  /** The format version, CREDENTIAL_VERSION. */
  readonly version: number
  readonly federation: string
  readonly memberId: string
  /** PeerId of the node key this credential binds (it embeds the Ed25519 or secp256k1 public key). */
  readonly peer: string
  readonly roles: readonly string[]
  readonly notBefore: string
  readonly notAfter: string
  readonly serial: string
  /** Compact secp256k1 signature by the member key, hex. */
  readonly signature: string
}

/**
 * An immutable, format-checked membership credential; its document is a frozen copy of the input.
 * Whether it is valid is `verifyCredential`'s job.
 */
export class Credential {
  readonly document: CredentialDocument
  readonly notBeforeMs: number
  readonly notAfterMs: number
  readonly fingerprint: string
  #message?: Uint8Array

  private constructor (document: CredentialDocument, notBeforeMs: number, notAfterMs: number) {
    this.document = document
    this.notBeforeMs = notBeforeMs
    this.notAfterMs = notAfterMs
    this.fingerprint = fingerprint(document)
  }

  get federation (): string { return this.document.federation }
  get memberId (): string { return this.document.memberId }
  get peer (): string { return this.document.peer }
  get roles (): readonly string[] { return this.document.roles }
  get serial (): string { return this.document.serial }

  /** Parses credential JSON (text or bytes), strictly. Throws MalformedError naming the field. */
  static decode (input: string | Uint8Array): Credential {
    const size = typeof input === 'string' ? utf8Length(input) : input.byteLength
    if (size > MAX_CREDENTIAL_BYTES) throw new MalformedError('$', `credential is ${size} bytes, at most ${MAX_CREDENTIAL_BYTES} allowed`)
    if (size === 0) throw new MalformedError('$', 'credential is empty')
    let json: unknown
    try {
      json = JSON.parse(typeof input === 'string' ? input : fromUtf8(input))
    } catch {
      throw new MalformedError('$', 'credential is not valid JSON; it may be truncated')
    }
    return Credential.fromJSON(json)
  }

  static fromJSON (json: unknown): Credential {
    const doc = obj(json, '$')
    fields(doc, '$', CREDENTIAL_FIELDS)
    const version = int(doc.version, '$.version', 0)
    if (version !== CREDENTIAL_VERSION) {
      throw new MalformedError('$.version', `credential format ${version} is not supported (this node reads format ${CREDENTIAL_VERSION}); issue the credential again with this fedgate version`)
    }
    const peer = str(doc.peer, '$.peer', { max: 64, pattern: PEER_ID, hint: 'a PeerId such as 12D3KooW...' })
    if (peerIdKeyType(peer) === undefined) throw new MalformedError('$.peer', 'not an Ed25519 or secp256k1 PeerId with an embedded public key')
    const roles = strSet(doc.roles, '$.roles', 16, (v, p) => str(v, p, { max: 32 }))
    if (roles.length === 0) throw new MalformedError('$.roles', 'a credential needs at least one role')
    const notBefore = str(doc.notBefore, '$.notBefore', { max: 30 })
    const notAfter = str(doc.notAfter, '$.notAfter', { max: 30 })
    const notBeforeMs = timestamp(notBefore, '$.notBefore')
    const notAfterMs = timestamp(notAfter, '$.notAfter')
    if (notAfterMs <= notBeforeMs) throw new MalformedError('$.notAfter', 'must be after notBefore')
    const document: CredentialDocument = Object.freeze({
      version,
      federation: str(doc.federation, '$.federation', { max: 64, pattern: ID }),
      memberId: str(doc.memberId, '$.memberId', { max: 64, pattern: ID }),
      peer,
      roles: Object.freeze(roles),
      notBefore,
      notAfter,
      serial: str(doc.serial, '$.serial', { max: 64, pattern: SERIAL }),
      signature: str(doc.signature, '$.signature', { min: 128, max: 128, pattern: HEX_SIG, hint: 'a compact secp256k1 signature: 128 lowercase hex characters' })
    })
    return new Credential(document, notBeforeMs, notAfterMs)
  }

  /** Compact JSON, as sent on the wire. */
  encode (): string {
    return JSON.stringify(this.document)
  }

  toJSON (): CredentialDocument {
    return this.document
  }

  /** The 32-byte message the member key signs: every field but the signature, domain-separated. */
  get signingMessage (): Uint8Array {
    if (this.#message === undefined) {
      const { signature: _signature, ...unsigned } = this.document
      this.#message = signingMessage('credential', unsigned)
    }
    return this.#message
  }
}

export interface IssueCredentialOptions {
  roster: Roster
  memberKey: SigningKey
  memberId: string
  /** PeerId of the node key the credential binds. */
  peer: string
  /** @default all the member's roles */
  roles?: readonly string[]
  /** @default 24h, capped by roster policy.credentialMaxTtl */
  ttlMs?: number
  /** @default now */
  notBefore?: number
  serial?: string
  now?: number
  /** Issue for a member the roster does not list or revokes. @default false */
  force?: boolean
}

/**
 * Issues a credential signed by the member key, checking it against the roster first: the member
 * is listed, under this key, not revoked, and holds the roles. `force` issues one for a member
 * the roster does not list (yet; roles must then be given) or that it revokes.
 */
export function issueCredential (opts: IssueCredentialOptions): Credential {
  const { roster, memberKey, memberId } = opts
  const force = opts.force === true
  if (memberKey.kind !== 'member') throw new CredentialIssueError(`credentials are signed with a member key, not a ${memberKey.kind} key`)
  const member = roster.member(memberId)
  let roles: readonly string[]
  if (member === undefined) {
    if (!force) throw new CredentialIssueError(`no member ${JSON.stringify(memberId)} in roster epoch ${roster.epoch}; nodes would refuse the credential as unknown-member: add it with fedgate roster add-member, or add --force to issue it for an epoch that will list it`)
    if (opts.roles === undefined) throw new CredentialIssueError(`member ${JSON.stringify(memberId)} is not in roster epoch ${roster.epoch}, so its roles are unknown; give them with --roles`)
    roles = opts.roles
    const undeclared = roles.filter(r => !roster.roles.has(r))
    if (undeclared.length > 0) throw new CredentialIssueError(`role(s) ${undeclared.join(', ')} are not declared by roster epoch ${roster.epoch} (it declares: ${[...roster.roles].join(', ')})`)
  } else {
    if (memberKey.publicKey !== member.key) throw new CredentialIssueError(`the member key ${memberKey.publicKey} is not the key the roster lists for ${memberId} (${member.key})`)
    roles = opts.roles ?? member.roles
    const missing = roles.filter(r => !member.roles.includes(r))
    if (missing.length > 0) throw new CredentialIssueError(`member ${memberId} does not hold role(s) ${missing.join(', ')} (it holds: ${member.roles.join(', ')})`)
  }
  if (!force) {
    const revoked = roster.revokedMembers.has(memberId) ? `member ${memberId}` : roster.revokedPeers.has(opts.peer) ? `node ${opts.peer}` : undefined
    if (revoked !== undefined) throw new CredentialIssueError(`${revoked} is revoked in roster epoch ${roster.epoch}; nodes would refuse the credential as revoked (add --force to issue it anyway, e.g. for an epoch that lifts the revocation)`)
  }
  const ttlMs = opts.ttlMs ?? Math.min(DEFAULT_CREDENTIAL_TTL_MS, roster.policy.credentialMaxTtlMs)
  if (ttlMs <= 0) throw new CredentialIssueError('the TTL must be positive')
  if (ttlMs > roster.policy.credentialMaxTtlMs) throw new CredentialIssueError(`TTL ${ttlMs / 1000}s is above the roster policy credentialMaxTtl of ${roster.policy.credentialMaxTtlMs / 1000}s; use a shorter --ttl`)
  const notBefore = opts.notBefore ?? opts.now ?? Date.now()
  const unsigned = {
    version: CREDENTIAL_VERSION,
    federation: roster.federation,
    memberId,
    peer: opts.peer,
    roles: [...roles],
    notBefore: isoTime(notBefore),
    notAfter: isoTime(notBefore + ttlMs),
    serial: opts.serial ?? bytesToHex(randomBytes(8))
  }
  const signature = signMessage(signingMessage('credential', unsigned), memberKey.secretKey)
  return Credential.fromJSON({ ...unsigned, signature })
}
