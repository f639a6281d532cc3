import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { ipOf, type FederationGate } from './gate.ts'

/**
 * fedgate's connection gater. Banned IPs are cut at TCP accept; after encryption only peers that
 * the membership encrypter just verified are let through (it already applied slot policy); known
 * outsiders (revoked PeerIds, peers refused as non-members) are never dialled.
 */
export function federationGater (gate: FederationGate): ConnectionGater {
  return {
    denyInboundConnection: (maConn: MultiaddrConnection) => {
      const ip = ipOf(maConn.remoteAddr.toString())
      return ip !== undefined && gate.isBanned(ip)
    },
    denyDialPeer: (peerId: PeerId) => gate.isKnownOutsider(peerId),
    denyInboundEncryptedConnection: (peerId: PeerId) => !gate.wasVerified(peerId),
    denyOutboundEncryptedConnection: (peerId: PeerId) => !gate.wasVerified(peerId)
  }
}
