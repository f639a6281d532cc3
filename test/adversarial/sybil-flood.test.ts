import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { addrOf, createFederation, eventually, waitFor, type Federation } from '../node/fixture.ts'

const SYBILS = 200

/**
 * Hundreds of fresh identities (stock libp2p nodes, each its own key) dial a validator at once.
 * None is admitted; a member dialling from the same address during the flood is; and afterwards the
 * validator holds no leftover sockets, handshakes or unbounded state.
 */
describe('adversarial: a Sybil flood of fresh identities', () => {
  let fed: Federation
  const sybils: Libp2p[] = []

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }] })
  })
  afterEach(async () => {
    await Promise.all(sybils.splice(0).map(async s => s.stop()))
    await fed.stopAll()
  })
  after(async () => { await fed.close() })

  it(`${SYBILS} stock identities dialling concurrently are all refused, a member on the same IP is admitted, and the validator returns to baseline`, async () => {
    const victim = await fed.startNode('victim', { member: 'val-1', bans: {} })
    for (let i = 0; i < SYBILS; i++) {
      sybils.push(await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } }))
    }
    const target = addrOf(victim)
    const flood = Promise.allSettled(sybils.map(async s => s.dial(target)))
    const member = await fed.startNode('val-2')
    const [admitted] = await Promise.all([waitFor(victim.gate, 'admitted', p => p.peerId === member.peerId), member.dial(target)])
    assert.equal(admitted.memberId, 'val-2', 'the member is admitted during the flood, from the flooding address')
    await flood

    assert.deepEqual(victim.peers().map(p => p.memberId), ['val-2'], 'no Sybil was admitted')
    const sybilIds = new Set(sybils.map(s => s.peerId.toString()))
    assert.ok(victim.refusals().every(r => r.peerId === undefined || sybilIds.has(r.peerId)), 'every refusal is of a Sybil')
    assert.ok(victim.refusals().some(r => r.code === 'no-credential' || r.code === 'banned'))
    // Back to baseline: no pending handshake, no Sybil connection, bounded memory of the flood.
    await eventually(() => victim.gate.pendingHandshakes().pending === 0, 'every pending handshake to end')
    await eventually(() => victim.libp2p.getConnections().every(c => c.remotePeer.equals(member.libp2p.peerId)), 'every Sybil socket to close')
    assert.ok(victim.refusals().length <= 100, 'the refusal log is bounded')
    assert.equal(victim.gate.slotUse().inbound.held, 1)
  })
})
