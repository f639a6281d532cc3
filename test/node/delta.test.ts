import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Connection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { addMember, allowProtocol, removeMember, revoke, Roster, ROSTER_PROTOCOL } from '../../node/index.ts'
import { applyDelta, epochDelta } from '../../node/sync/delta.ts'
import { encodeAnnounce } from '../../node/sync/wire.ts'
import { genesis, nextEpoch, nodeKey, signedBy, ADMINS } from '../membership/fixtures.ts'
import { addrOf, createFederation, eventually, metricValue, waitFor, type Federation } from './fixture.ts'

describe('epoch deltas', () => {
  it('rebuild the next epoch exactly for removals, changes, appends and revocations', async () => {
    const base = genesis()
    const peer = (await nodeKey('delta')).peerId
    const edits: Array<(r: Roster) => Roster> = [
      r => revoke(r, { peer }),
      r => removeMember(r, 'rel-b'),
      r => allowProtocol(r, '/chain/x/1.0.0', ['validator']),
      r => addMember(r, { id: 'new-d', roles: ['validator'], key: '02' + 'ab'.repeat(32).slice(0, 64) })
    ]
    for (const edit of edits) {
      const next = signedBy(edit(base), ADMINS.slice(0, 2))
      const delta = epochDelta(base, next)
      assert.ok(delta !== undefined)
      assert.equal(applyDelta(base, delta)?.fingerprint, next.fingerprint)
      assert.ok(JSON.stringify(delta).length < next.encode().length)
    }
  })

  it('are not made for a reordering, and do not fit another base', async () => {
    const base = genesis()
    const members = [...base.document.members].reverse()
    const reordered = signedBy(Roster.fromJSON({ ...base.document, epoch: base.epoch + 1, members, signatures: [] }), ADMINS.slice(0, 2))
    assert.equal(epochDelta(base, reordered), undefined)
    const next = nextEpoch(base, (await nodeKey('delta 2')).peerId)
    const delta = epochDelta(base, next)
    assert.ok(delta !== undefined)
    assert.equal(applyDelta(next, delta), undefined, 'a delta only fits the epoch it follows')
    assert.equal(applyDelta(base, { ...delta, members: { removed: 'x' } } as unknown as typeof delta), undefined)
  })
})

describe('roster sync: an epoch carried by its announcement', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }] })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('a peer one epoch behind applies the announced delta without pulling', async () => {
    const a = await fed.startNode('val-1')
    const b = await fed.startNode('val-2')
    await b.dial(addrOf(a))
    await eventually(() => a.peers().length === 1, 'the two to connect')
    const next = await fed.publishEpoch(r => allowProtocol(r, '/chain/inline/1.0.0', ['validator']), { nodes: ['val-1'] })
    await eventually(() => b.roster.fingerprint === next.fingerprint, 'val-2 to hold the new epoch')
    // Counted once the store's apply returns, a moment after the epoch is in force.
    await eventually(async () => await metricValue(b, 'fedgate_roster_sync_pulls_total', { result: 'inline' }) === 1, 'the inline epoch to be counted')
    assert.equal(await metricValue(b, 'fedgate_roster_sync_pulls_total', { result: 'delivered' }), 0)
  })

  it('a delta that rebuilds an unsigned or forged epoch is refused, the peer penalised, and the roster stays', async () => {
    const a = await fed.startNode('val-1')
    const b = await fed.startNode('val-2')
    const connection: Connection = await b.dial(addrOf(a))
    await eventually(() => a.peers().length === 1, 'the two to connect')
    const before = a.roster
    const unsigned = Roster.fromJSON({ ...allowProtocol(before, '/chain/forged/1.0.0', ['validator']).document, signatures: [] })
    const delta = epochDelta(before, Roster.fromJSON({ ...unsigned.document }))
    assert.ok(delta !== undefined)
    const refused = waitFor(a.gate, 'roster-refused')
    const stream = await connection.newStream(ROSTER_PROTOCOL)
    await lpStream(stream, { maxDataLength: 1 << 17 }).write(encodeAnnounce(unsigned.epoch, unsigned.fingerprint, delta))
    await stream.close()
    assert.equal((await refused).code, 'threshold-not-met')
    await eventually(async () => await metricValue(a, 'fedgate_roster_sync_pulls_total', { result: 'refused' }) === 1, 'the refusal to be counted')
    assert.equal(a.roster.fingerprint, before.fingerprint)
  })
})
