import { acceptsPeer, type Credential, type CredentialVerifier, type ReasonCode, type Roster } from '../../membership/index.ts'

/** What a credential is judged against. */
export interface AdmissionContext {
  readonly roster: Roster
  readonly localRoles: readonly string[]
  readonly now: number
  readonly verifier: CredentialVerifier
}

/**
 * Whether a peer that proved `remotePeer` in Noise and presented `credential` may be admitted:
 * the credential verifies under the roster (federation, member, revocation, key, validity, roles,
 * signature, in that order), and a local role accepts one of its roles. Null when it may, else the
 * reason code. Pure: slot limits are the caller's next step.
 */
export function judgeCredential (credential: Credential, remotePeer: string, ctx: AdmissionContext): ReasonCode | null {
  const verdict = ctx.verifier.verify(credential, remotePeer, ctx.roster, ctx.now)
  if (verdict !== null) return verdict
  return acceptsPeer(ctx.roster.policy, ctx.localRoles, credential.roles) ? null : 'role-not-accepted'
}

/** What a handshake that passed brings to the connection it opens. */
export interface Handshake {
  readonly credential: Credential
  /** The roster epoch the peer said it runs. */
  readonly rosterEpoch: number
}
