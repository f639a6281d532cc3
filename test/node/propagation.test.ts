import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { revoke, type FederationNode } from '../../node/index.ts'
import { addrOf, createFederation, eventually, waitFor, type Federation } from './fixture.ts'

const NODES = 10

/**
 * An epoch handed to one node of a ring of ten reaches all of them through roster sync, and the
 * member it revokes is dropped by every node that held it.
 */
describe('roster propagation across a ring of ten nodes', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: [...Array.from({ length: NODES }, (_, i) => ({ id: `val-${i}`, roles: ['validator'] })), { id: 'mallory', roles: ['validator'] }] })
  })
  after(async () => { await fed.close() })

  it('an epoch published to one node revokes mallory on every node of the ring', async () => {
    const ring: FederationNode[] = []
    for (let i = 0; i < NODES; i++) ring.push(await fed.startNode(`val-${i}`, { peers: false }))
    for (let i = 0; i < NODES; i++) await ring[i]?.dial(addrOf(ring[(i + 1) % NODES] ?? ring[0] as FederationNode))
    const mallory = await fed.startNode('mallory', { peers: false })
    for (const node of ring) await mallory.dial(addrOf(node))
    await eventually(() => ring.every(n => n.peers().length === 3), 'the ring with mallory on every node')
    const dropped = ring.map(node => waitFor(node.gate, 'disconnected', d => d.memberId === 'mallory'))
    const next = await fed.publishEpoch(r => revoke(r, { member: 'mallory' }), { nodes: ['val-0'] })
    const drops = await Promise.all(dropped)
    assert.ok(drops.every(d => d.code === 'revoked'))
    for (const node of ring) {
      assert.equal(node.roster.fingerprint, next.fingerprint)
      assert.ok(!node.peers().some(p => p.memberId === 'mallory'))
      assert.equal(node.peers().length, 2, 'the ring itself stays whole')
    }
  })
})
