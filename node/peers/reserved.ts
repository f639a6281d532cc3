import { multiaddr } from '@multiformats/multiaddr'
import type { Roster } from '../../membership/index.ts'
import type { ReservedAddress } from './peer-manager.ts'

/** Thrown when a reserved address would admit whichever member answers there. */
export class UnpinnedAddressError extends Error {
  override readonly name = 'UnpinnedAddressError'
  readonly fix = 'add /p2p/<PeerId> to the address, or list it for its member (fedgate roster update-member --addr) in a signed epoch'
}

/**
 * Resolves the config's `dial` addresses against the roster. An address with /p2p/ is pinned to that
 * PeerId; one without must be an address the roster lists for exactly one member, and is pinned to
 * that member: whoever answers there as another member is not kept. Any other address is refused.
 */
export function reservedAddresses (addrs: readonly string[], roster: Roster): ReservedAddress[] {
  return addrs.map(addr => {
    if (multiaddr(addr).getComponents().some(c => c.name === 'p2p')) return { addr }
    const listed = [...roster.members.values()].filter(m => m.addrs?.some(a => withoutPeerId(a) === addr) === true)
    const [member] = listed
    if (member === undefined || listed.length > 1) {
      throw new UnpinnedAddressError(`dial ${addr}: ${listed.length > 1 ? `several roster members list this address (${listed.map(m => m.id).join(', ')})` : 'no /p2p/ PeerId and no roster member lists this address'}, so it is not pinned to a member`)
    }
    return { addr, memberId: member.id }
  })
}

function withoutPeerId (addr: string): string {
  return addr.replace(/\/p2p\/[^/]+$/, '')
}
