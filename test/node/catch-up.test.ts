import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  addMember, allowProtocol, generateSigningKey, initRoster, issueCredential, MembershipRefusedError, refusalOf, Roster, setAdmins,
  signRoster, type FederationNode, type SigningKey
} from '../../node/index.ts'
import { decodeHello, encodeHello } from '../../node/net/hello.ts'
import { encodeSizes, sendEpoch } from '../../node/sync/wire.ts'
import { rogueNode } from './rogue.ts'
import { addrOf, createFederation, eventually, metricValue, waitFor, type Federation } from './fixture.ts'

/**
 * A node that is behind catches up before its verdict is final: a member that only a newer epoch
 * lists is admitted by a node still on the older one, whichever side dials, by fetching the epochs
 * it lacks from that peer over the handshake's own channel. A hostile peer gains nothing.
 */
describe('catch-up before admission', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }] })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  /** A node on the genesis epoch, and the next epoch adding `member`, known to the federation only. */
  async function staleAndNewer (member: string): Promise<{ stale: FederationNode, genesis: Roster, next: Roster }> {
    const genesis = fed.roster
    const stale = await fed.startNode('val-1', { roster: genesis })
    const next = await fed.publishEpoch(r => addMember(r, fed.memberEntry({ id: member, roles: ['validator'] })), { nodes: [] })
    return { stale, genesis, next }
  }

  it('a stale listener admits a member only the newer epoch lists, catching up from the dialer', async () => {
    const { stale, next } = await staleAndNewer('val-3')
    const newcomer = await fed.startNode('val-3')
    await newcomer.dial(addrOf(stale))
    await eventually(() => stale.peers().some(p => p.memberId === 'val-3'), 'the stale node to admit val-3')
    assert.equal(stale.roster.fingerprint, next.fingerprint)
    assert.equal(await metricValue(stale, 'fedgate_roster_sync_pulls_total', { result: 'delivered' }), 1)
  })

  it('a stale dialer admits a listener only the newer epoch lists, catching up from the listener', async () => {
    const { stale, next } = await staleAndNewer('val-4')
    const listener = await fed.startNode('val-4')
    await stale.dial(addrOf(listener))
    await eventually(() => stale.peers().some(p => p.memberId === 'val-4'), 'the stale dialer to admit val-4')
    assert.equal(stale.roster.fingerprint, next.fingerprint)
  })

  it('a chain across an admin rotation (8 to 9 changes the admins, 9 to 10 signed by the new ones) is followed from 8', async () => {
    const rotated = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }] })
    try {
      for (let i = 0; i < 6; i++) await rotated.publishEpoch(r => allowProtocol(r, `/chain/step-${i}/1.0.0`, ['validator']), { nodes: [] })
      const eight = await rotated.publishEpoch(r => allowProtocol(r, '/chain/eight/1.0.0', ['validator']), { nodes: [] })
      assert.equal(eight.epoch, 8)
      const newAdmins = [generateSigningKey('admin'), generateSigningKey('admin')]
      const nine = signWith(setAdmins(eight, { threshold: 2, keys: newAdmins.map(a => a.publicKey) }), rotated.admins.slice(0, 2))
      const ten = signWith(allowProtocol(nine, '/chain/ten/1.0.0', ['validator']), newAdmins)
      const ahead = await rotated.startNode('val-2', { roster: eight })
      for (const epoch of [nine, ten]) assert.equal(await ahead.store.apply(epoch, 'test'), null)
      const behind = await rotated.startNode('val-1', { roster: eight })
      await behind.dial(addrOf(ahead))
      await eventually(() => behind.roster.epoch === 10, 'the node on epoch 8 to reach epoch 10 through 9')
      assert.equal(behind.roster.fingerprint, ten.fingerprint)
      assert.deepEqual(await behind.store.epochs(), [8, 9, 10])
    } finally {
      await rotated.close()
    }
  })

  it('a stranger claiming a newer epoch and serving a forged one is refused, penalised, and the roster stays', async () => {
    const victim = await fed.startNode('val-1')
    const before = victim.roster
    const claimed = before.epoch + 5
    // The stranger's own federation of the same name, signed by its own admin, listing itself.
    const admin = generateSigningKey('admin')
    const malloryKey = generateSigningKey('member')
    const draft = Roster.fromJSON({ ...initRoster({ federation: fed.name, admins: [admin.publicKey], threshold: 1 }).document, epoch: claimed })
    const forged = signRoster(addMember(draft, { id: 'mallory', roles: ['validator'], key: malloryKey.publicKey }), admin)
    const node = await fed.nodeKey('mallory')
    const credential = issueCredential({ roster: forged, memberKey: malloryKey, memberId: 'mallory', peer: node.peerId })
    let served = 0
    const rogue = await rogueNode(node, async (lp, _secured, signal) => {
      await lp.write(encodeHello({ federation: fed.name, rosterEpoch: claimed, credential }), { signal })
      for (;;) {
        const message = decodeHello((await lp.read({ signal })).subarray(), true)
        if (message.pull === undefined) throw new MembershipRefusedError(message.hello === undefined ? message.verdict : 'malformed', 'remote')
        served++
        const bytes = new TextEncoder().encode(forged.encode())
        await lp.write(encodeSizes([bytes.byteLength]), { signal })
        await sendEpoch(lp, bytes, { signal })
      }
    })
    try {
      const refusedRoster = waitFor(victim.gate, 'roster-refused')
      const first = await rogue.dial(addrOf(victim)).then(() => undefined, (err: unknown) => err)
      assert.deepEqual(refusalOf(first), { code: 'unknown-member', by: 'remote' })
      assert.equal((await refusedRoster).code, 'threshold-not-met', 'the forged epoch was refused by the store')
      assert.equal(served, 1)
      assert.equal(await metricValue(victim, 'fedgate_roster_sync_pulls_total', { result: 'refused' }), 1)
      // Penalised: the next attempt from that address gets its verdict at once, without a pull.
      const second = await rogue.dial(addrOf(victim)).then(() => undefined, (err: unknown) => err)
      assert.deepEqual(refusalOf(second), { code: 'unknown-member', by: 'remote' })
      assert.equal(served, 1)
      assert.equal(victim.roster.fingerprint, before.fingerprint)
      assert.deepEqual(victim.peers(), [])
    } finally {
      await rogue.stop()
    }
  })
})

function signWith (roster: Roster, admins: readonly SigningKey[]): Roster {
  return admins.reduce((r, admin) => signRoster(r, admin), roster)
}

