import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { CredentialIssueError, MalformedError } from './errors.ts'
import type { SigningKey } from './keys.ts'
import type { CredentialVerdict } from './reasons.ts'
import type { Roster } from './roster.ts'
import { fingerprint, signingMessage, signMessage, verifySignature, type SignatureVerifier } from './signing.ts'
import { fields, isoTime, obj, str, strSet, timestamp, HEX_SIG, ID, PEER_ID } from './validate.ts'

/** Largest encoded credential accepted anywhere (file, hello, renewal). */
export const MAX_CREDENTIAL_BYTES = 2048
export const DEFAULT_CREDENTIAL_TTL_MS = 24 * 3_600_000

const CREDENTIAL_FIELDS = ['federation', 'memberId', 'peer', 'roles', 'notBefore', 'notAfter', 'serial', 'signature'] as const
const SERIAL = /^[A-Za-z0-9_-]{1,64}$/

/** The signed fields of a credential, as stored (times as ISO-8601 UTC strings). */
export interface CredentialDocument {
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

/** An immutable, format-checked membership credential. Whether it is valid is `verifyCredential`'s job. */
export class Credential {
  readonly document: CredentialDocument
  readonly notBeforeMs: number
  readonly notAfterMs: number
  readonly fingerprint: string
  private cachedMessage?: Uint8Array

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
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength
    if (size > MAX_CREDENTIAL_BYTES) throw new MalformedError('$', `credential is ${size} bytes, at most ${MAX_CREDENTIAL_BYTES} allowed`)
    if (size === 0) throw new MalformedError('$', 'credential is empty')
    let json: unknown
    try {
      json = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'))
    } catch {
      throw new MalformedError('$', 'credential is not valid JSON; it may be truncated')
    }
    return Credential.fromJSON(json)
  }

  static fromJSON (json: unknown): Credential {
    const doc = obj(json, '$')
    fields(doc, '$', CREDENTIAL_FIELDS)
    str(doc.federation, '$.federation', { max: 64, pattern: ID })
    str(doc.memberId, '$.memberId', { max: 64, pattern: ID })
    const peer = str(doc.peer, '$.peer', { max: 64, pattern: PEER_ID, hint: 'a PeerId such as 12D3KooW...' })
    try {
      if (peerIdFromString(peer).publicKey === undefined) throw new Error('no embedded key')
    } catch {
      throw new MalformedError('$.peer', 'not an Ed25519 or secp256k1 PeerId with an embedded public key')
    }
    const roles = strSet(doc.roles, '$.roles', 16, (v, p) => str(v, p, { max: 32 }))
    if (roles.length === 0) throw new MalformedError('$.roles', 'a credential needs at least one role')
    const notBeforeMs = timestamp(doc.notBefore, '$.notBefore')
    const notAfterMs = timestamp(doc.notAfter, '$.notAfter')
    if (notAfterMs <= notBeforeMs) throw new MalformedError('$.notAfter', 'must be after notBefore')
    str(doc.serial, '$.serial', { max: 64, pattern: SERIAL })
    str(doc.signature, '$.signature', { min: 128, max: 128, pattern: HEX_SIG, hint: 'a compact secp256k1 signature: 128 lowercase hex characters' })
    return new Credential(doc as unknown as CredentialDocument, notBeforeMs, notAfterMs)
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
    if (this.cachedMessage === undefined) {
      const { signature: _signature, ...unsigned } = this.document
      this.cachedMessage = signingMessage('credential', unsigned)
    }
    return this.cachedMessage
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
}

/** Issues a credential signed by the member key, checking it against the roster first. */
export function issueCredential (opts: IssueCredentialOptions): Credential {
  const { roster, memberKey, memberId } = opts
  const member = roster.member(memberId)
  if (member === undefined) throw new CredentialIssueError(`no member ${JSON.stringify(memberId)} in roster epoch ${roster.epoch}; add it with fedgate roster add-member`)
  if (memberKey.kind !== 'member') throw new CredentialIssueError(`credentials are signed with a member key, not a ${memberKey.kind} key`)
  if (memberKey.publicKey !== member.key) throw new CredentialIssueError(`the member key ${memberKey.publicKey} is not the key the roster lists for ${memberId} (${member.key})`)
  const roles = opts.roles ?? member.roles
  const missing = roles.filter(r => !member.roles.includes(r))
  if (missing.length > 0) throw new CredentialIssueError(`member ${memberId} does not hold role(s) ${missing.join(', ')} (it holds: ${member.roles.join(', ')})`)
  const ttlMs = opts.ttlMs ?? Math.min(DEFAULT_CREDENTIAL_TTL_MS, roster.policy.credentialMaxTtlMs)
  if (ttlMs <= 0) throw new CredentialIssueError('the TTL must be positive')
  if (ttlMs > roster.policy.credentialMaxTtlMs) throw new CredentialIssueError(`TTL ${ttlMs / 1000}s is above the roster policy credentialMaxTtl of ${roster.policy.credentialMaxTtlMs / 1000}s; use a shorter --ttl`)
  const notBefore = opts.notBefore ?? opts.now ?? Date.now()
  const unsigned = {
    federation: roster.federation,
    memberId,
    peer: opts.peer,
    roles: [...roles],
    notBefore: isoTime(notBefore),
    notAfter: isoTime(notBefore + ttlMs),
    serial: opts.serial ?? randomBytes(8).toString('hex')
  }
  const signature = signMessage(signingMessage('credential', unsigned), memberKey.secretKey)
  return Credential.fromJSON({ ...unsigned, signature })
}

/**
 * Verifies a credential presented by `remotePeer` (the PeerId Noise authenticated) under `roster`
 * at time `now`. Returns null when valid, or the first failing reason code, checking in the order
 * of CREDENTIAL_CHECK_ORDER: federation, member known, revoked, peer key, validity window (with the
 * roster's clock skew), TTL cap, roles held; the signature last.
 */
export function verifyCredential (credential: Credential, remotePeer: string, roster: Roster, now: number, verify: SignatureVerifier = verifySignature): CredentialVerdict | null {
  const verdict = checkCredential(credential, remotePeer, roster, now)
  if (verdict !== null) return verdict
  const member = roster.members.get(credential.memberId)
  if (member === undefined || !verify(credential.signingMessage, credential.document.signature, member.key)) return 'bad-signature'
  return null
}

/** Every check but the signature: the cheap re-check for a credential whose signature is known good. */
export function checkCredential (credential: Credential, remotePeer: string, roster: Roster, now: number): CredentialVerdict | null {
  const doc = credential.document
  if (doc.federation !== roster.federation) return 'federation-mismatch'
  const member = roster.members.get(doc.memberId)
  if (member === undefined) return 'unknown-member'
  if (isRevoked(credential, roster)) return 'revoked'
  if (doc.peer !== remotePeer) return 'peer-mismatch'
  const skew = roster.policy.clockSkewMs
  if (now + skew < credential.notBeforeMs) return 'not-yet-valid'
  if (now - skew >= credential.notAfterMs) return 'expired'
  if (credential.notAfterMs - credential.notBeforeMs > roster.policy.credentialMaxTtlMs) return 'ttl-exceeded'
  for (const role of doc.roles) {
    if (!member.roles.includes(role)) return 'role-not-held'
  }
  return null
}

/** True when the roster revokes the credential, its PeerId, or its member. */
export function isRevoked (credential: Credential, roster: Roster): boolean {
  return roster.revokedMembers.has(credential.memberId) ||
    roster.revokedPeers.has(credential.peer) ||
    roster.revokedCredentials.has(credential.fingerprint)
}

export interface CredentialVerifierInit {
  /** @default native OpenSSL secp256k1 */
  verify?: SignatureVerifier
  /** Verdict cache entries kept. @default 65536 */
  cacheSize?: number
}

/**
 * Verifies credentials with a cache of good signatures, keyed by fingerprint and member key: a
 * credential seen before is re-checked (revocation, window, roles) without redoing the signature.
 */
export class CredentialVerifier {
  private readonly verifySig: SignatureVerifier
  private readonly cacheSize: number
  private readonly goodSignatures = new Map<string, string>()

  constructor (init: CredentialVerifierInit = {}) {
    this.verifySig = init.verify ?? verifySignature
    this.cacheSize = init.cacheSize ?? 65_536
  }

  verify (credential: Credential, remotePeer: string, roster: Roster, now: number): CredentialVerdict | null {
    const verdict = checkCredential(credential, remotePeer, roster, now)
    if (verdict !== null) return verdict
    const memberKey = roster.members.get(credential.memberId)?.key
    if (memberKey === undefined) return 'unknown-member'
    if (this.goodSignatures.get(credential.fingerprint) === memberKey) return null
    if (!this.verifySig(credential.signingMessage, credential.document.signature, memberKey)) return 'bad-signature'
    if (this.goodSignatures.size >= this.cacheSize) {
      const oldest = this.goodSignatures.keys().next().value
      if (oldest !== undefined) this.goodSignatures.delete(oldest)
    }
    this.goodSignatures.set(credential.fingerprint, memberKey)
    return null
  }

  get cached (): number {
    return this.goodSignatures.size
  }
}
