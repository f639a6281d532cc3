import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { reservedAddresses, revoke, Roster, UnpinnedAddressError, type FederationNode, type Member } from '../../../node/index.ts'
import { addrOf, captureLog, createFederation, eventually, type Federation } from '../fixture.ts'

/** The next epoch of `roster` with each node's listen address (without /p2p/) listed for its member. */
function withAddrs (roster: Roster, nodes: ReadonlyArray<readonly [string, FederationNode]>): Roster {
  const addrs = new Map(nodes.map(([member, node]) => [member, addrOf(node).toString().replace(/\/p2p\/.*$/, '')]))
  return rosterWith(roster, m => addrs.has(m.id) ? { ...m, addrs: [addrs.get(m.id) ?? ''] } : m)
}

/** The next epoch of `roster` (unsigned) with `change` applied to every member. */
function rosterWith (roster: Roster, change: (m: Member) => Member): Roster {
  return Roster.fromJSON({ ...roster.document, epoch: roster.epoch + 1, members: roster.document.members.map(change), signatures: [] })
}

describe('peer manager: the roster decides whom a node reaches', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-1', roles: ['validator'], org: 'acme' },
        { id: 'val-2', roles: ['validator'], org: 'birch' },
        { id: 'val-3', roles: ['validator'], org: 'cedar' },
        { id: 'relay-1', roles: ['relayer'], org: 'bridgeco' }
      ]
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('a dial address with /p2p/ is pinned by PeerId; one the roster lists is pinned to its member; any other is refused', () => {
    const roster = rosterWith(fed.roster, m => m.id === 'val-2' ? { ...m, addrs: ['/ip4/10.0.0.2/tcp/4001'] } : m)
    const peerId = '12D3KooWJHqYdQR8c22xAgFMLwVVBmnkWER2yXPyh6SzPXU5Yvxr'
    assert.deepEqual(reservedAddresses([`/ip4/10.0.0.9/tcp/4001/p2p/${peerId}`, '/ip4/10.0.0.2/tcp/4001'], roster), [
      { addr: `/ip4/10.0.0.9/tcp/4001/p2p/${peerId}` },
      { addr: '/ip4/10.0.0.2/tcp/4001', memberId: 'val-2' }
    ])
    assert.throws(() => reservedAddresses(['/ip4/10.0.0.9/tcp/4001'], roster), (err: unknown) => err instanceof UnpinnedAddressError && /no roster member lists this address/.test(err.message))
  })

  it('validators with roster addresses form a full mesh by themselves, and redial a peer that drops', async () => {
    const nodes = await Promise.all(['val-1', 'val-2', 'val-3'].map(async id => [id, await fed.startNode(id)] as const))
    await fed.publishEpoch(r => withAddrs(r, nodes))
    for (const [, node] of nodes) {
      await eventually(() => node.peers().length === 2, `${node.credential.memberId} to reach both other validators`)
    }
    const [[, one], [, two]] = nodes as unknown as [[string, FederationNode], [string, FederationNode]]
    await one.libp2p.hangUp(two.libp2p.peerId)
    await eventually(() => one.peers().some(p => p.memberId === 'val-2'), 'the mesh to heal')
    assert.ok(one.gate.reservedPeers().every(r => r.connected), 'every reserved peer is connected')
    assert.deepEqual(one.gate.reservedPeers().map(r => r.memberId).sort(), ['val-2', 'val-3'])
  })

  it('the set follows the roster: a revoked validator is no longer dialled', async () => {
    const nodes = await Promise.all(['val-1', 'val-2', 'val-3'].map(async id => [id, await fed.startNode(id)] as const))
    await fed.publishEpoch(r => withAddrs(r, nodes))
    const [[, one]] = nodes as unknown as [[string, FederationNode]]
    await eventually(() => one.peers().length === 2, 'the mesh to form')
    await fed.publishEpoch(r => revoke(r, { member: 'val-3' }), { nodes: ['val-1', 'val-2'] })
    await eventually(() => !one.peers().some(p => p.memberId === 'val-3'), 'val-3 to be dropped')
    assert.deepEqual(one.gate.reservedPeers().map(r => r.memberId), ['val-2'])
  })

  it('a node of another member answering at a reserved member\'s address is not kept', async () => {
    const { log, lines } = captureLog()
    const impostor = await fed.startNode('relay-1')
    const addr = addrOf(impostor).toString().replace(/\/p2p\/.*$/, '')
    const dialer = await fed.startNode('val-1', { log, peers: { extra: [{ addr, memberId: 'val-2' }], minBackoffMs: 60_000 } })
    await eventually(() => lines.some(l => l.event === 'reserved-dial' && l.reason === 'member-mismatch' && l.memberId === 'relay-1'), 'the impostor to be refused as the reserved peer')
    await eventually(() => dialer.libp2p.getConnections(impostor.libp2p.peerId).length === 0, 'the connection to the impostor to close')
    const reserved = dialer.gate.reservedPeers().find(r => r.memberId === 'val-2')
    assert.ok(reserved?.addrs.includes(addr), 'the config address is one more address of the member')
    assert.equal(reserved?.connected, false)
    assert.match(reserved?.lastError ?? '', /member-mismatch/)
  })
})
