import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import { internalsOf, type FederationGate } from '../gate/gate.ts'

/**
 * fedgate's connection gater. At TCP accept it applies the pending-handshake limits and bans (see
 * PendingHandshakes); after encryption it lets through only peers the membership encrypter has just
 * admitted (slot policy already applied), and only while the gate's libp2p service runs, so a node
 * wired without the service refuses everyone rather than serve unguarded handlers. Known outsiders
 * (revoked PeerIds, peers refused as non-members) are not dialled.
 */
export function federationGater (gate: FederationGate): ConnectionGater {
  const internals = internalsOf(gate)
  const admitted = (peerId: PeerId): boolean => internals.running && internals.slots.hasReservation(peerId.toString())
  return {
    denyInboundConnection: (maConn: MultiaddrConnection) => !internals.pending.admit(maConn),
    denyDialPeer: (peerId: PeerId) => internals.isOutsider(peerId.toString()),
    denyInboundEncryptedConnection: (peerId: PeerId) => !admitted(peerId),
    denyOutboundEncryptedConnection: (peerId: PeerId) => !admitted(peerId)
  }
}
