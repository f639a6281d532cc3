import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, MAX_ROSTER_BYTES, Roster, type Member } from '../../node/index.ts'
import { addrOf, createFederation, eventually, waitFor, type Federation } from '../node/fixture.ts'

const MEMBERS = 100_000

/** `count` members with distinct valid member keys (consecutive curve points: cheap to make). */
function syntheticMembers (count: number): Member[] {
  let point = secp256k1.Point.BASE.multiply(BigInt('0x' + bytesToHex(secp256k1.utils.randomSecretKey())))
  const members: Member[] = []
  for (let i = 0; i < count; i++) {
    point = point.add(secp256k1.Point.BASE)
    members.push({ id: `m-${i}`, org: `org-${i % 997}`, roles: ['full-node'], key: bytesToHex(point.toBytes(true)), addrs: [`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/4001`] })
  }
  return members
}

/**
 * A revoking epoch for a very large federation must cross a hop of roster sync: it is far larger
 * than libp2p's per-stream read buffer (4 MiB), so it travels in chunks.
 */
describe('roster sync: a 100,000-member epoch', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-a', roles: ['validator'] }, { id: 'val-b', roles: ['validator'] }, { id: 'val-c', roles: ['validator'] }] })
  })
  after(async () => { await fed.close() })

  it('crosses a hop: published to one node, the next accepts it from that node and drops the member it revokes', async () => {
    const a = await fed.startNode('val-a')
    const b = await fed.startNode('val-b')
    const c = await fed.startNode('val-c')
    await b.dial(addrOf(a))
    await c.dial(addrOf(b))
    await eventually(() => b.peers().length === 2, 'the line a-b-c to form')
    const members = syntheticMembers(MEMBERS)
    const target = fed.roster.epoch + 1
    const onB = waitFor(b.gate, 'roster', update => update.epoch === target, 120_000)
    const dropped = waitFor(b.gate, 'disconnected', d => d.peerId === c.peerId, 120_000)
    const big = await fed.publishEpoch(r => Roster.fromJSON({
      ...r.document,
      epoch: r.epoch + 1,
      members: [...r.document.members.filter(m => m.id !== 'val-c'), ...members],
      signatures: []
    }), { nodes: ['val-a'] })
    const size = Buffer.byteLength(big.encode())
    assert.ok(size > 16 * 1024 * 1024 && size <= MAX_ROSTER_BYTES, `a large epoch (${size} bytes)`)
    await onB
    assert.equal(b.roster.fingerprint, big.fingerprint)
    assert.equal(b.roster.members.size, MEMBERS + 2)
    assert.equal((await dropped).code, 'unknown-member')
  })
})
