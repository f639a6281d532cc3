/** Node keys remembered as members: enough for a busy node, bounded against floods of keys. */
const MAX_REMEMBERED = 65_536

/**
 * The PeerIds this node has seen named by a credential that verified: the only peers whose
 * addresses the peer store keeps (so an address a peer hands out for a non-member, say through a
 * DHT, is never stored, and so never dialled). Oldest first out when full.
 */
export class MemberNodes {
  private readonly peers = new Map<string, string>()

  remember (peerId: string, memberId: string): void {
    this.peers.delete(peerId)
    if (this.peers.size >= MAX_REMEMBERED) {
      const oldest = this.peers.keys().next().value
      if (oldest !== undefined) this.peers.delete(oldest)
    }
    this.peers.set(peerId, memberId)
  }

  /** The member a PeerId was admitted as, if it was. */
  memberOf (peerId: string): string | undefined {
    return this.peers.get(peerId)
  }
}
