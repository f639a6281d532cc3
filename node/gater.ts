import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { ipOf, type FederationGate } from './gate.ts'

/**
 * fedgate's connection gater. Banned IPs are cut at TCP accept, each cut recorded as a `banned`
 * refusal; after encryption only peers that the membership encrypter just verified are let through
 * (it already applied slot policy); known outsiders (revoked PeerIds, peers refused as non-members)
 * are never dialled.
 */
export function federationGater (gate: FederationGate): ConnectionGater {
  return {
    denyInboundConnection: (maConn: MultiaddrConnection) => {
      const remoteAddr = maConn.remoteAddr.toString()
      const ip = ipOf(remoteAddr)
      if (ip === undefined || !gate.isBanned(ip)) return false
      gate.refuse({ code: 'banned', by: 'local', stage: 'accept', direction: 'inbound', remoteAddr })
      return true
    },
    denyDialPeer: (peerId: PeerId) => gate.isKnownOutsider(peerId),
    denyInboundEncryptedConnection: (peerId: PeerId) => !gate.wasVerified(peerId),
    denyOutboundEncryptedConnection: (peerId: PeerId) => !gate.wasVerified(peerId)
  }
}
