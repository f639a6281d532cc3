import type { ConnectionProtector } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import type { FederationGate } from './gate/gate.ts'
import {
  federationOptions, type FederationLibp2pOptions as PortableOptions, type WithFederationInit as PortableInit
} from './federation-options.ts'
import { nodeNoiseCrypto } from './net/noise-crypto.ts'

export { INBOUND_CONNECTIONS_PER_IP_PER_SECOND } from './federation-options.ts'

export interface WithFederationInit extends PortableInit {
  /**
   * A federation-wide pre-shared key (libp2p's swarm key format, see `fedgate keygen psk`): peers
   * without it are refused before Noise, at the cost of one cipher operation. Off by default.
   */
  psk?: Uint8Array
}

/** The parts of `createLibp2p` options that fedgate sets on Node. */
export interface FederationLibp2pOptions extends PortableOptions {
  connectionProtector?: () => ConnectionProtector
}

/**
 * Everything `createLibp2p` needs to run a node behind `gate`: the node key, the membership
 * encrypter (and the outsider encrypter), the gater, the fedgate service, the peer-store filter,
 * connection-manager settings that follow the roster's limits, and the pre-shared key when given.
 * Spread it into your options and add transports and a muxer; merge your own services after
 * `fedgate`, and keep it first so the guard is in place before any other service registers a
 * handler. On Node, Noise uses `nodeNoiseCrypto` (cached X25519 keys) unless told otherwise.
 *
 *   const node = await createLibp2p({ ...withFederation(gate), transports: [tcp()], streamMuxers: [yamux()] })
 */
export function withFederation (gate: FederationGate, init: WithFederationInit = {}): FederationLibp2pOptions {
  const options = federationOptions(gate, { ...init, noise: init.noise ?? { crypto: nodeNoiseCrypto } })
  return init.psk === undefined ? options : { ...options, connectionProtector: preSharedKey({ psk: init.psk }) }
}
