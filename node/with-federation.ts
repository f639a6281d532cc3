import type { FederationGate } from './gate/gate.ts'
import { federationOptions, type FederationLibp2pOptions, type WithFederationInit } from './federation-options.ts'
import { nodeNoiseCrypto } from './net/noise-crypto.ts'

export { INBOUND_CONNECTIONS_PER_IP_PER_SECOND, type FederationLibp2pOptions, type WithFederationInit } from './federation-options.ts'

/**
 * Everything `createLibp2p` needs to run a node behind `gate`: the node key, the membership
 * encrypter (and the outsider encrypter), the gater, the fedgate service, and connection-manager
 * settings that follow the roster's limits. Noise runs on `nodeNoiseCrypto` unless `init.noise`
 * says otherwise. Spread it into your options and add transports and a muxer; merge your own
 * services after `fedgate`, and keep it first so the guard is in place before any other service
 * registers a handler.
 *
 *   const node = await createLibp2p({ ...withFederation(gate), transports: [tcp()], streamMuxers: [yamux()] })
 */
export function withFederation (gate: FederationGate, init: WithFederationInit = {}): FederationLibp2pOptions {
  return federationOptions(gate, { ...init, noise: init.noise ?? { crypto: nodeNoiseCrypto } })
}
