import type { FederationGate } from '../gate/gate.ts'
import { federationOptions, type FederationLibp2pOptions, type WithFederationInit } from '../federation-options.ts'

/**
 * Everything `createLibp2p` needs to run a browser node behind `gate`: the node key, the membership
 * encrypter (Noise on its stock crypto, which runs on WebCrypto and @noble) and the outsider
 * encrypter, the gater and the fedgate service, as `withFederation` gives a Node node.
 *
 * The gater also answers `denyDialMultiaddr`, which libp2p in a browser otherwise fills in to refuse
 * plain `/ws` and private addresses: a light client dials the full nodes its app or roster names,
 * often on a LAN, and Noise plus the membership exchange encrypt and authenticate every connection
 * whatever carries it. A page served over https can still open only `wss:` (the browser's rule).
 */
export function withFederation (gate: FederationGate, init: WithFederationInit = {}): FederationLibp2pOptions {
  const options = federationOptions(gate, init)
  return { ...options, connectionGater: { ...options.connectionGater, denyDialMultiaddr: () => false } }
}
