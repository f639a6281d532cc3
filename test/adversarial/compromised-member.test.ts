import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { refusalOf, Roster, type FederationNode, type Member } from '../../node/index.ts'
import { addrOf, createFederation, eventually, rejection, type Federation } from '../node/fixture.ts'

const KEYS = 50
const MALLORY_LIMIT = 8

/** The next epoch of `roster` (unsigned) with each node's listen address listed for its member. */
function withAddrs (roster: Roster, nodes: ReadonlyArray<readonly [string, FederationNode]>): Roster {
  const addrs = new Map(nodes.map(([member, node]) => [member, addrOf(node).toString().replace(/\/p2p\/.*$/, '')]))
  const members = roster.document.members.map((m: Member) => addrs.has(m.id) ? { ...m, addrs: [addrs.get(m.id) ?? ''] } : m)
  return Roster.fromJSON({ ...roster.document, epoch: roster.epoch + 1, members, signatures: [] })
}

/**
 * A compromised member mints node keys and credentials at will. It is held to its per-member cap,
 * the validators' reserved mesh is untouched, and addresses it (or a DHT) hands out for nodes no
 * credential named are never stored, so never dialled.
 */
describe('adversarial: a compromised member and an eclipse attempt', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-1', roles: ['validator'], org: 'acme' },
        { id: 'val-2', roles: ['validator'], org: 'birch' },
        { id: 'val-3', roles: ['validator'], org: 'cedar' },
        { id: 'mallory', roles: ['validator'], org: 'evil', maxConnections: MALLORY_LIMIT }
      ]
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it(`${KEYS} node keys of one member: ${MALLORY_LIMIT} admitted (its cap), the rest refused, the honest mesh untouched`, async () => {
    const honest = await Promise.all(['val-1', 'val-2', 'val-3'].map(async id => [id, await fed.startNode(id)] as const))
    await fed.publishEpoch(r => withAddrs(r, honest))
    const [[, victim]] = honest as unknown as [[string, FederationNode]]
    await eventually(() => honest.every(([, n]) => n.peers().filter(p => p.memberId !== 'mallory').length === 2), 'the honest validator mesh')
    const codes: string[] = []
    await Promise.all(Array.from({ length: KEYS }, async (_, i) => {
      const node = await fed.startNode(`mallory-${i}`, { member: 'mallory', peers: false })
      codes.push(await node.dial(addrOf(victim)).then(() => 'ok', err => refusalOf(err)?.code ?? String(err)))
    }))
    assert.equal(codes.filter(c => c === 'ok').length, MALLORY_LIMIT)
    assert.ok(codes.filter(c => c !== 'ok').every(c => c === 'member-over-limit'), `refusals: ${[...new Set(codes)].join(', ')}`)
    assert.equal(victim.peers().filter(p => p.memberId === 'mallory').length, MALLORY_LIMIT)
    for (const [, node] of honest) assert.equal(node.peers().filter(p => p.memberId !== 'mallory').length, 2, 'the honest mesh keeps every link')
    assert.ok(victim.gate.reservedPeers().every(r => r.memberId === 'mallory' || r.connected))
  })

  it('an address handed out for a node no credential named is never stored, so never dialled by PeerId', async () => {
    const victim = await fed.startNode('val-1')
    const outsider = peerIdFromString('12D3KooWJHqYdQR8c22xAgFMLwVVBmnkWER2yXPyh6SzPXU5Yvxr')
    // What a DHT answer or a lying peer does: offer an address for a PeerId.
    await victim.libp2p.peerStore.merge(outsider, { multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] })
    const stored = await victim.libp2p.peerStore.get(outsider).then(p => p.addresses, () => [])
    assert.deepEqual(stored, [], 'the address was filtered out')
    const err = await rejection(victim.libp2p.dial(outsider), 'a dial to the outsider by PeerId')
    assert.ok(err instanceof Error)
    // A member's node, once a credential named it, keeps its addresses.
    const member = await fed.startNode('val-2')
    await member.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === member.peerId), 'the member to be admitted')
    await victim.libp2p.peerStore.merge(member.libp2p.peerId, { multiaddrs: [addrOf(member)] })
    assert.ok((await victim.libp2p.peerStore.get(member.libp2p.peerId)).addresses.length > 0)
  })
})
