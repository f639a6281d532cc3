export { REASONS, REASON_CODES, CREDENTIAL_CHECK_ORDER, isReasonCode, reasonFix, type ReasonCode, type CredentialVerdict } from './reasons.ts'
export { MalformedError, KeyFileError, RosterRefusedError, RosterEditError, CredentialIssueError, InvalidOptionError } from './errors.ts'
export { parseDuration, formatDuration } from './duration.ts'
export { isoTime } from './validate.ts'
export {
  DOMAIN, canonicalBytes, fingerprint, signingMessage, signMessage, verifyNoble, verifyNative, verifySignature, toHighS,
  type SignatureVerifier
} from './signing.ts'
export {
  generateSigningKey, signingKeyFromSecret, generateNodeKey, nodeKeyFromPrivateKey, encodeKeyFile, decodeKeyFile,
  writeKeyFile, readKeyFile, KEY_FILE_MODE,
  type SigningKey, type SigningKeyKind, type NodeKey, type NodeKeyType, type KeyFile, type KeyKind
} from './keys.ts'
export {
  STANDARD_ROLES, DEFAULT_ACCEPTS, DEFAULT_LIMITS, acceptsPeer, protocolAllows, type Policy, type Limits
} from './policy.ts'
export {
  Roster, acceptRoster, countSignatures, initRoster, addMember, removeMember, revoke, allowProtocol, setPolicy, setAdmins,
  signRoster, diffRosters, MAX_ROSTER_BYTES, MAX_MEMBERS,
  type Member, type Revocation, type AdminSet, type RosterSignature, type RosterDocument, type RosterDiff,
  type MemberChange, type PolicyChange, type InitRosterOptions
} from './roster.ts'
export {
  Credential, CredentialVerifier, issueCredential, verifyCredential, checkCredential, isRevoked,
  MAX_CREDENTIAL_BYTES, DEFAULT_CREDENTIAL_TTL_MS,
  type CredentialDocument, type IssueCredentialOptions, type CredentialVerifierInit
} from './credential.ts'
export { RosterStore, type RosterStoreInit, type RosterUpdate, type RosterRefusal, type StoreLogger } from './store.ts'
