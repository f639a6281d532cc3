export { REASONS, REASON_CODES, CREDENTIAL_CHECK_ORDER, isReasonCode, reasonFix, type ReasonCode, type CredentialVerdict } from './reasons.ts'
export { MalformedError, KeyFileError, RosterRefusedError, RosterEditError, CredentialIssueError, InvalidOptionError } from './errors.ts'
export { parseDuration, formatDuration, MAX_DURATION_MS } from './duration.ts'
export { isoTime, obj, fields, str, int, type JsonObject } from './validate.ts'
export { sha256, bytesToHex, hexToBytes, utf8, fromUtf8 } from './bytes.ts'
export {
  DOMAIN, canonicalBytes, fingerprint, signingMessage, signMessage, verifyNoble, verifyNative, verifySignature, nativeVerifierWorks,
  signatureBackend, toHighS, type SignatureVerifier
} from './signing.ts'
export {
  generateSigningKey, signingKeyFromSecret, signingKeyDocument, signingKeyFromDocument, type SigningKey, type SigningKeyKind
} from './keys.ts'
export { peerIdKeyType, type NodeKeyType } from './peer-id.ts'
export {
  DEFAULT_TOPOLOGY, DEFAULT_SLOT_SHARES, DEFAULT_PRIORITY, DEFAULT_DIVERSITY, roleClass, type TopologyRule, type PeerPolicy, type Diversity
} from './policy-topology.ts'
export {
  STANDARD_ROLES, DEFAULT_ACCEPTS, DEFAULT_LIMITS, LIMIT_BOUNDS, DURATION_BOUNDS, acceptsPeer, protocolAllows, type Policy, type Limits
} from './policy.ts'
export {
  PROTOCOL_FAMILY_SUFFIX, PROTOCOL_PRESETS, IDENTIFY_PROTOCOL, isProtocolFamily, protocolKeyProblem, familyOf, rolesAllowedOn,
  isPresetName, presetsOf, policyWarnings, widenedProtocols, describePolicyWarning, type ProtocolPreset, type PresetName, type PolicyWarning, type PolicyView
} from './protocols.ts'
export {
  Roster, acceptRoster, countSignatures, adminSetFingerprint, MAX_ROSTER_BYTES, MAX_MEMBERS,
  type Member, type Revocation, type AdminSet, type RosterSignature, type RosterDocument, type RosterHead
} from './roster.ts'
export {
  initRoster, addMember, removeMember, revoke, allowProtocol, setPolicy, setAdmins, signRoster, updateMember, unrevoke,
  type InitRosterOptions, type MemberUpdate
} from './roster-edit.ts'
export { diffRosters, type RosterDiff, type MemberChange, type PolicyChange } from './roster-diff.ts'
export {
  Credential, issueCredential, MAX_CREDENTIAL_BYTES, DEFAULT_CREDENTIAL_TTL_MS, CREDENTIAL_VERSION,
  type CredentialDocument, type IssueCredentialOptions
} from './credential.ts'
export { CredentialVerifier, verifyCredential, checkCredential, isRevoked, type CredentialVerifierInit } from './credential-verify.ts'
