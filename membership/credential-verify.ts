import type { Credential } from './credential.ts'
import type { CredentialVerdict } from './reasons.ts'
import type { Roster } from './roster.ts'
import { verifySignature, type SignatureVerifier } from './signing.ts'

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
