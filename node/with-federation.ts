import type { NoiseInit } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, ConnectionGater, ConnectionProtector, PeerId, PrivateKey } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import type { ConnectionManagerInit } from 'libp2p'
import { federationService, type FederationService, type FederationServiceComponents } from './gate/service.ts'
import { internalsOf, type FederationGate } from './gate/gate.ts'
import { membershipEncrypter, outsiderEncrypter } from './net/encrypter.ts'
import { federationGater } from './net/gater.ts'
import { nodeNoiseCrypto } from './net/noise-crypto.ts'

/** Inbound connections per second one IP may open before libp2p drops them (libp2p's own default is 5). */
export const INBOUND_CONNECTIONS_PER_IP_PER_SECOND = 64

export interface WithFederationInit {
  /**
   * Complete Noise with peers that speak plain libp2p Noise but not fedgate, so they are refused
   * with `no-credential`, logged with their PeerId, counted and banned. `false` leaves them to fail
   * protocol negotiation unrecorded. @default true
   */
  recordOutsiders?: boolean
  /** Options for the inner Noise. @default { crypto: nodeNoiseCrypto } (cached X25519 keys) */
  noise?: NoiseInit
  /** @default INBOUND_CONNECTIONS_PER_IP_PER_SECOND */
  inboundConnectionThreshold?: number
  /**
   * A federation-wide pre-shared key (libp2p's swarm key format, see `fedgate keygen psk`): peers
   * without it are refused before Noise, at the cost of one cipher operation. Off by default.
   */
  psk?: Uint8Array
}

/** The parts of `createLibp2p` options that fedgate sets. */
export interface FederationLibp2pOptions {
  privateKey: PrivateKey
  connectionEncrypters: Array<(components: Parameters<ReturnType<typeof membershipEncrypter>>[0]) => ConnectionEncrypter>
  connectionGater: ConnectionGater
  connectionManager: ConnectionManagerInit
  /** Keeps addresses only for PeerIds a verified credential has named (and this node's own). */
  peerStore: { addressFilter: (peerId: PeerId) => boolean }
  connectionProtector?: () => ConnectionProtector
  services: { fedgate: (components: FederationServiceComponents) => FederationService }
}

/**
 * Everything `createLibp2p` needs to run a node behind `gate`: the node key, the membership
 * encrypter (and the outsider encrypter), the gater, the fedgate service, and connection-manager
 * settings that follow the roster's limits. Spread it into your options and add transports and a
 * muxer; merge your own services after `fedgate`, and keep it first so the guard is in place
 * before any other service registers a handler.
 *
 *   const node = await createLibp2p({ ...withFederation(gate), transports: [tcp()], streamMuxers: [yamux()] })
 */
export function withFederation (gate: FederationGate, init: WithFederationInit = {}): FederationLibp2pOptions {
  const internals = internalsOf(gate)
  const noise = init.noise ?? { crypto: nodeNoiseCrypto }
  const limits = gate.roster.policy.limits
  return {
    privateKey: gate.nodeKey.privateKey,
    connectionEncrypters: [
      membershipEncrypter(gate, { noise }),
      ...(init.recordOutsiders === false ? [] : [outsiderEncrypter(gate, { noise })])
    ],
    connectionGater: federationGater(gate),
    connectionManager: {
      inboundUpgradeTimeout: limits.handshakeTimeoutMs,
      // fedgate counts pending handshakes per IP and fairly; libp2p's own cap only backs it up.
      maxIncomingPendingConnections: limits.maxPendingHandshakes * 2,
      maxConnections: limits.maxInboundConnections + limits.maxOutboundConnections,
      inboundConnectionThreshold: init.inboundConnectionThreshold ?? INBOUND_CONNECTIONS_PER_IP_PER_SECOND
    },
    peerStore: {
      // An address a peer hands out (a DHT answer, say) for a node no credential has named is never
      // stored, so never dialled by PeerId; explicit dials to a multiaddr are the caller's choice.
      addressFilter: (peerId: PeerId) => peerId.toString() === gate.peerId || internals.memberNodes.memberOf(peerId.toString()) !== undefined
    },
    ...(init.psk === undefined ? {} : { connectionProtector: preSharedKey({ psk: init.psk }) }),
    services: { fedgate: federationService(gate) }
  }
}
