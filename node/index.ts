export { createFederationNode, FederationNode, readCredentialFile, CredentialFileError, type FederationNodeInit } from './federation-node.ts'
export {
  FederationGate, SelfCredentialError, StreamGuardMissingError, streamGuard, RENEW_PROTOCOL, BYE_PROTOCOL,
  type FederationGateInit, type GuardableRegistrar, type StreamGuardService
} from './gate.ts'
export { membershipEncrypter, outsiderEncrypter, MembershipRefusedError, refusalOf, PLAIN_NOISE_PROTOCOL, type MembershipEncrypterInit } from './encrypter.ts'
export { nodeNoiseCrypto } from './noise-crypto.ts'
export { federationGater } from './gater.ts'
export { ROSTER_PROTOCOL, RosterSync } from './roster-sync.ts'
export { ENCRYPTER_PROTOCOL, HELLO_VERSION, MAX_HELLO_BYTES } from './hello.ts'
export { BanList, DEFAULT_BAN_POLICY, type BanPolicy } from './bans.ts'
export { FedgateMetrics } from './metrics.ts'
export { createAuditLog, silentLog, type AuditLogInit, type Logger } from './log.ts'
export type { AdmittedPeer, Refusal, FederationStreamHandler, FederationNodeEvents, FederationNodeView } from './types.ts'
export * from '../membership/index.ts'
