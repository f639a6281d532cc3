import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { revoke, ROSTER_PROTOCOL, type FederationNode } from '../../node/index.ts'
import { addrOf, createFederation, eventually, waitFor, type Federation } from '../node/fixture.ts'

const ATTACKER_KEYS = 4
const HUGE_EPOCH = Number.MAX_SAFE_INTEGER

/**
 * A member about to be revoked makes each of its node keys claim epoch 2^53-1 and stall every
 * pull, to keep the revoking epoch away. The honest peer's real epoch must still arrive within
 * seconds (well inside the 10 s wait here), and the revoked keys must be dropped.
 */
describe('adversarial: stalled epoch claims', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [{ id: 'victim', roles: ['validator'] }, { id: 'honest', roles: ['validator'] }, { id: 'mallory', roles: ['validator'] }]
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  /** A mallory node that claims HUGE_EPOCH and never answers a pull. */
  async function staller (name: string, victim: FederationNode): Promise<FederationNode> {
    const node = await fed.startNode(name, { member: 'mallory' })
    await node.libp2p.unhandle(ROSTER_PROTOCOL)
    await node.libp2p.handle(ROSTER_PROTOCOL, async (stream: Stream) => {
      // Read the pull and never answer, holding the stream open; the victim must cut it on its own.
      await lpStream(stream).read().catch(() => undefined)
      await new Promise(resolve => { stream.addEventListener('close', resolve, { once: true }) })
    })
    const connection = await node.dial(addrOf(victim))
    const stream = await connection.newStream(ROSTER_PROTOCOL)
    await lpStream(stream, { maxDataLength: 512 }).write(new TextEncoder().encode(JSON.stringify({ v: 2, announce: HUGE_EPOCH, fingerprint: 'f'.repeat(64) })))
    await stream.close()
    return node
  }

  it('the honest peer\'s revoking epoch arrives while four keys of the revoked member claim 2^53-1 and stall', async () => {
    const victim = await fed.startNode('victim')
    const honest = await fed.startNode('honest')
    await honest.dial(addrOf(victim))
    const mallory = []
    for (let i = 0; i < ATTACKER_KEYS; i++) mallory.push(await staller(`mallory-${i}`, victim))
    assert.equal(victim.peers().filter(p => p.memberId === 'mallory').length, ATTACKER_KEYS)

    const target = fed.roster.epoch + 1
    const revoking = waitFor(victim.gate, 'roster', update => update.epoch === target)
    // The revoking epoch lands on the honest node only; the victim must pull it from there.
    const next = await fed.publishEpoch(r => revoke(r, { member: 'mallory' }), { nodes: ['honest'] })
    const applied = await revoking
    assert.equal(applied.epoch, next.epoch)
    assert.equal(victim.roster.fingerprint, next.fingerprint)
    await eventually(() => !victim.peers().some(p => p.memberId === 'mallory'), 'every key of the revoked member to be dropped')
    for (const node of mallory) assert.equal(victim.libp2p.getConnections(node.libp2p.peerId).length, 0)
  })
})
