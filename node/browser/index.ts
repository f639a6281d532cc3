/**
 * fedgate for browsers (`fedgate/browser`): the dialer side of a federation, for light clients.
 * Membership verification runs on @noble (no node:crypto), Noise on its stock crypto (WebCrypto and
 * @noble), and the gate keeps its roster in memory; the membership encrypter, gater and stream guard
 * are the ones a Node node runs. Nothing here reads files, writes logs or serves metrics.
 */
export { createLightClient, LightClient, MAX_REPLY_BYTES, type LightClientInit } from './light-client.ts'
export { withFederation } from './with-federation.ts'
export { federationOptions, INBOUND_CONNECTIONS_PER_IP_PER_SECOND, type WithFederationInit, type FederationLibp2pOptions } from '../federation-options.ts'
export { FederationGate, SelfCredentialError, type FederationGateInit } from '../gate/gate.ts'
export type { EpochExchange } from '../gate/internals.ts'
export { federationService, type FederationService, type FederationServiceInit } from '../gate/service.ts'
export type { Rejoin } from '../gate/rejoin.ts'
export { UnguardableRegistrarError, type GuardableRegistrar } from '../gate/stream-guard.ts'
export { BYE_PROTOCOL } from '../gate/bye.ts'
export { RENEW_PROTOCOL } from '../gate/renewal.ts'
export { RESET_NOTICE_PROTOCOL, RESET_NOTICE_INTERVAL_MS } from '../gate/reset-notice.ts'
export { MAX_CONNECTIONS_PER_PEER } from '../gate/slots.ts'
export { membershipEncrypter, outsiderEncrypter, PLAIN_NOISE_PROTOCOL, type MembershipEncrypterInit } from '../net/encrypter.ts'
export { MembershipRefusedError, refusalOf } from '../net/refusal.ts'
export { federationGater } from '../net/gater.ts'
export { ENCRYPTER_PROTOCOL, HELLO_VERSION, MAX_HELLO_BYTES } from '../net/hello.ts'
export { resettableWebSockets, WEBSOCKET_RESET_CODE } from '../net/websockets.ts'
export { MemoryRosterStore, type MemoryRosterStoreInit } from '../memory-roster-store.ts'
export { judgeEpoch, matchesRoot, type RosterSource, type RosterSourceEvents, type RosterUpdate, type RosterRefusal, type TrustRoot } from '../roster-source.ts'
export { generateNodeKey, nodeKeyFromPrivateKey, type NodeKey } from '../node-key.ts'
export { quietLog, quietMetrics, type GateLog, type GateMetrics, type GateCounter } from '../telemetry.ts'
export { EVENTS, type EventName } from '../events.ts'
export type {
  AdmittedPeer, Membership, PolicyWarningEvent, ProtocolsWidened, Refusal, Disconnect, RosterChange, CredentialRenewal, Direction, FederationStreamHandler, FederationEvents
} from '../types.ts'
export * from '../../membership/index.ts'
