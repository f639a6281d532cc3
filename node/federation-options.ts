import type { NoiseInit } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import type { ConnectionManagerInit } from 'libp2p'
import { federationService, type FederationService, type FederationServiceComponents, type FederationServiceInit } from './gate/service.ts'
import { internalsOf, type FederationGate } from './gate/gate.ts'
import { membershipEncrypter, outsiderEncrypter } from './net/encrypter.ts'
import { federationGater } from './net/gater.ts'

/**
 * Inbound connections per second one IP may open before libp2p drops them at accept (libp2p's own
 * default is 5). libp2p's limiter cannot tell a member from a flood at the same address (a NAT, a
 * cloud egress), so it only backs up fedgate's own controls, which can: the fair per-IP share of
 * pending handshakes, the first-bytes deadline and bans. Set low, a connect storm from a shared
 * address would lock its members out for as long as it lasts.
 */
export const INBOUND_CONNECTIONS_PER_IP_PER_SECOND = 1024

export interface WithFederationInit {
  /**
   * Complete Noise with peers that speak plain libp2p Noise but not fedgate, so they are refused
   * with `no-credential`, logged with their PeerId, counted and banned. `false` leaves them to fail
   * protocol negotiation unrecorded. @default true
   */
  recordOutsiders?: boolean
  /**
   * Options for the inner Noise. @default Noise's stock crypto here; `withFederation` from the Node
   * entry uses `{ crypto: nodeNoiseCrypto }` (cached X25519 keys)
   */
  noise?: NoiseInit
  /** @default INBOUND_CONNECTIONS_PER_IP_PER_SECOND */
  inboundConnectionThreshold?: number
  /** When an epoch gives protocols back on a connection: re-run identify (`true`), your own step, or only the event (`false`). @default true */
  rejoin?: FederationServiceInit['rejoin']
}

/** The parts of `createLibp2p` options that fedgate sets. */
export interface FederationLibp2pOptions {
  privateKey: PrivateKey
  connectionEncrypters: Array<(components: Parameters<ReturnType<typeof membershipEncrypter>>[0]) => ConnectionEncrypter>
  connectionGater: ConnectionGater
  connectionManager: ConnectionManagerInit
  /** Keeps addresses only for PeerIds a verified credential has named (and this node's own). */
  peerStore: { addressFilter: (peerId: PeerId) => boolean }
  services: { fedgate: (components: FederationServiceComponents) => FederationService }
}

/**
 * Everything `createLibp2p` needs to run a node behind `gate`: the node key, the membership
 * encrypter (and the outsider encrypter), the gater, the fedgate service, and connection-manager
 * settings that follow the roster's limits. This is the portable core of `withFederation` (the Node
 * and browser entries each export one, with their platform's Noise crypto and dial rules).
 */
export function federationOptions (gate: FederationGate, init: WithFederationInit = {}): FederationLibp2pOptions {
  const internals = internalsOf(gate)
  const noise = init.noise ?? {}
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
    services: { fedgate: federationService(gate, { rejoin: init.rejoin }) }
  }
}
