import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DaemonStartError, ReservedPeers, reservedPeers } from '../../node/daemon/index.ts'
import { addrOf, captureLog, createFederation, eventually, type Federation } from '../node/fixture.ts'

/**
 * A reserved `dial` address without /p2p/ used to admit whichever member answered there. It is now
 * pinned: by its PeerId, or to the roster member that lists the address.
 */
describe('reserved peers are pinned to members', () => {
  let fed: Federation
  const reserved: ReservedPeers[] = []

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-1', roles: ['validator'] },
        { id: 'val-2', roles: ['validator'], addrs: ['/ip4/127.0.0.1/tcp/1'] },
        { id: 'val-3', roles: ['validator'] }
      ]
    })
  })
  afterEach(async () => {
    for (const r of reserved.splice(0)) r.stop()
    await fed.stopAll()
  })
  after(async () => { await fed.close() })

  it('an address with /p2p/ is pinned by PeerId; one the roster lists is pinned to its member; any other is refused at start', () => {
    const peerId = '12D3KooWJHqYdQR8c22xAgFMLwVVBmnkWER2yXPyh6SzPXU5Yvxr'
    assert.deepEqual(reservedPeers([`/ip4/10.0.0.9/tcp/4001/p2p/${peerId}`, '/ip4/127.0.0.1/tcp/1'], fed.roster), [
      { addr: `/ip4/10.0.0.9/tcp/4001/p2p/${peerId}` },
      { addr: '/ip4/127.0.0.1/tcp/1', memberId: 'val-2' }
    ])
    assert.throws(() => reservedPeers(['/ip4/10.0.0.9/tcp/4001'], fed.roster), (err: unknown) =>
      err instanceof DaemonStartError && /no \/p2p\/ PeerId and no roster member lists this address/.test(err.message) && err.fix !== undefined)
  })

  it('a node of another member answering at a reserved member\'s address is not kept', async () => {
    const { log, lines } = captureLog()
    const dialer = await fed.startNode('val-1', { log })
    const impostor = await fed.startNode('val-3')
    // The roster pins this address to val-2; val-3 answers there.
    const addr = addrOf(impostor).toString().replace(/\/p2p\/.*$/, '')
    const peers = new ReservedPeers(dialer, [{ addr, memberId: 'val-2' }], { minBackoffMs: 60_000 })
    reserved.push(peers)
    peers.start()
    await eventually(() => lines.some(l => l.event === 'reserved-dial' && l.reason === 'member-mismatch' && l.memberId === 'val-3'), 'the impostor to be refused as the reserved peer')
    await eventually(() => dialer.libp2p.getConnections(impostor.libp2p.peerId).length === 0, 'the connection to the impostor to close')
  })
})
