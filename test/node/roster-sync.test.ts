import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import {
  allowProtocol, CHUNK_BYTES, initRoster, revoke, Roster, ROSTER_PROTOCOL, signingKeyFromSecret, signRoster
} from '../../node/index.ts'
import { addrOf, captureLog, createFederation, eventually, metricValue, waitFor, type Federation } from './fixture.ts'

/** Tells the node at the other end of `connection` that this side runs `epoch`. */
async function announce (connection: Connection, epoch: number, fingerprint: string): Promise<void> {
  const stream = await connection.newStream(ROSTER_PROTOCOL)
  await lpStream(stream, { maxDataLength: 512 }).write(new TextEncoder().encode(JSON.stringify({ v: 2, announce: epoch, fingerprint })))
  await stream.close()
}

const NODES = ['val-a', 'val-b', 'val-c', 'val-d', 'val-e']

describe('roster propagation between admitted peers', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: NODES.map(id => ({ id, roles: ['validator'] })) })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('an epoch written to one node reaches the others through their peers, and revokes there too', async () => {
    const [a, b, c, d] = await Promise.all(['val-a', 'val-b', 'val-c', 'val-d'].map(async n => fed.startNode(n)))
    if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error('four nodes expected')
    await b.dial(addrOf(a))
    await c.dial(addrOf(b))
    await d.dial(addrOf(c))
    await eventually(() => c.peers().length === 2, 'the chain a-b-c-d to form')
    const dropped = waitFor(c.gate, 'disconnected', e => e.peerId === d.peerId)
    const next = await fed.publishEpoch(r => revoke(r, { member: 'val-d' }), { nodes: ['val-a'] })
    const event = await dropped
    assert.equal(event.code, 'revoked')
    for (const node of [b, c]) {
      assert.equal(node.roster.epoch, next.epoch)
      assert.equal(node.roster.fingerprint, next.fingerprint)
      assert.deepEqual(await node.store.epochs(), [next.epoch - 1, next.epoch])
    }
  })

  it('an epoch crosses each connection once: a peer is not told back the epoch it announced', async () => {
    const [a, b, c] = await Promise.all(['val-a', 'val-b', 'val-c'].map(async n => fed.startNode(n)))
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes expected')
    await b.dial(addrOf(a))
    await c.dial(addrOf(b))
    await eventually(() => b.peers().length === 2, 'the line a-b-c to form')
    // Two epochs, one after the other: an echo of the first would land while the second crosses the line.
    for (const step of ['one', 'two']) {
      const next = await fed.publishEpoch(r => allowProtocol(r, `/chain/${step}/1.0.0`, ['validator']), { nodes: ['val-a'] })
      await eventually(() => c.roster.epoch === next.epoch, `epoch ${next.epoch} to reach val-c`)
    }
    await eventually(async () => await metricValue(b, 'fedgate_roster_announcements_total', { direction: 'sent' }) === 2, 'val-b to tell val-c twice')
    assert.equal(await metricValue(a, 'fedgate_roster_announcements_total', { direction: 'sent' }), 2)
    assert.equal(await metricValue(a, 'fedgate_roster_announcements_total', { direction: 'received' }), 0, 'val-b does not tell val-a back')
    assert.equal(await metricValue(b, 'fedgate_roster_announcements_total', { direction: 'received' }), 2)
    assert.equal(await metricValue(c, 'fedgate_roster_announcements_total', { direction: 'sent' }), 0, 'val-c does not tell val-b back')
  })

  it('a peer that does not acknowledge an announcement is told again', async () => {
    const [a, b] = await Promise.all(['val-a', 'val-b'].map(async n => fed.startNode(n)))
    if (a === undefined || b === undefined) throw new Error('two nodes expected')
    await b.dial(addrOf(a))
    await eventually(() => a.peers().length === 1, 'val-a to admit val-b')
    // val-b takes the first announcement and never closes it (a stalled or overloaded peer); it
    // closes the next one at once, which acknowledges it.
    const streams: Stream[] = []
    await b.libp2p.unhandle(ROSTER_PROTOCOL)
    await b.libp2p.handle(ROSTER_PROTOCOL, async (stream: Stream) => {
      streams.push(stream)
      if (streams.length > 1) await stream.close()
    })
    await fed.publishEpoch(r => allowProtocol(r, '/chain/retry/1.0.0', ['validator']), { nodes: ['val-a'] })
    await eventually(() => streams.length >= 2, 'val-a to announce again', 20_000)
    await eventually(async () => await metricValue(a, 'fedgate_roster_announcements_total', { direction: 'sent' }) === 1, 'the second announcement to be acknowledged')
    assert.equal(streams.length, 2, 'told again once, not more')
    assert.equal(streams[0]?.status, 'reset', 'the unacknowledged stream was given up')
  })

  it('a node that starts on an older epoch fetches the ones it lacks from the peer it connects to, over several requests', async () => {
    const old = fed.roster
    const a = await fed.startNode('val-a')
    // More epochs than one request carries (16).
    let latest = old
    for (let i = 0; i < 18; i++) {
      latest = await fed.publishEpoch(r => allowProtocol(r, `/chain/step-${i}/1.0.0`, ['validator']), { nodes: ['val-a'] })
    }
    const b = await fed.startNode('val-b', { roster: old })
    assert.equal(b.roster.epoch, old.epoch)
    await b.dial(addrOf(a))
    await eventually(() => b.roster.epoch === latest.epoch, 'val-b to catch up with val-a')
    assert.equal(b.roster.fingerprint, latest.fingerprint)
  })

  it('an epoch a peer hands over without the admins\' threshold is refused, the accepted one stays, and the peer is not pulled from again soon', async () => {
    const { log, lines } = captureLog()
    const a = await fed.startNode('val-a', { log })
    const e = await fed.startNode('val-e')
    // val-e announces a far newer epoch and serves one signed by a key that is no admin.
    const outsider = signingKeyFromSecret('admin', new Uint8Array(32).fill(9))
    const forged = signRoster(Roster.fromJSON({ ...initRoster({ federation: a.roster.federation, admins: [outsider.publicKey], threshold: 1 }).document, epoch: 99 }), outsider)
    let served = 0
    await e.libp2p.unhandle(ROSTER_PROTOCOL)
    await e.libp2p.handle(ROSTER_PROTOCOL, async (stream: Stream) => {
      served++
      const lp = lpStream(stream, { maxDataLength: CHUNK_BYTES })
      await lp.read()
      const bytes = new TextEncoder().encode(forged.encode())
      await lp.write(new TextEncoder().encode(JSON.stringify({ v: 2, sizes: [bytes.byteLength] })))
      await lp.write(bytes)
      await stream.close()
    })
    const connection: Connection = await e.dial(addrOf(a))
    const before = a.roster
    const refused = waitFor(a.gate, 'roster-refused')
    await announce(connection, 99, forged.fingerprint)
    const refusal = await refused
    assert.equal(refusal.code, 'threshold-not-met')
    assert.equal(a.roster.fingerprint, before.fingerprint)
    assert.deepEqual(a.peers().map(p => p.memberId), ['val-e'])
    await eventually(() => lines.some(line => line.event === 'roster-sync-failed' && line.outcome === 'refused'), 'val-a to stop pulling from val-e')
    // Announcing again does not make val-a pull from the same peer: the claim is counted as ignored.
    await announce(connection, 99, forged.fingerprint)
    await eventually(async () => await metricValue(a, 'fedgate_roster_sync_pulls_total', { result: 'ignored' }) >= 1, 'val-a to ignore the penalised claim')
    assert.equal(served, 1)
    assert.equal(await metricValue(a, 'fedgate_roster_sync_pulls_total', { result: 'refused' }), 1)
    assert.equal(a.roster.epoch, before.epoch)
  })

  it('with rosterSync off, a node keeps its epoch until its own roster file changes', async () => {
    const a = await fed.startNode('val-a')
    const b = await fed.startNode('val-b', { rosterSync: false })
    // Control: val-c, connected to val-a just as val-b is but with rosterSync on, gets the epoch from val-a.
    const c = await fed.startNode('val-c')
    await b.dial(addrOf(a))
    await c.dial(addrOf(a))
    await eventually(() => a.peers().length === 2, 'val-a to admit val-b and val-c')
    const epoch = fed.roster.epoch + 1
    const synced = waitFor(c.gate, 'roster', update => update.epoch === epoch)
    const next = await fed.publishEpoch(r => allowProtocol(r, '/chain/three/1.0.0', ['validator']), { nodes: ['val-a'] })
    await synced
    // val-b runs no roster sync at all: it neither serves nor pulls epochs.
    assert.equal(a.roster.epoch, next.epoch)
    assert.equal(b.roster.epoch, next.epoch - 1)
    assert.equal(b.libp2p.getProtocols().includes(ROSTER_PROTOCOL), false, 'val-b does not even serve roster sync')
    // Its own roster file moves it on, from the epoch it had: it never took the one val-a announced.
    const fromFile = waitFor(b.gate, 'roster')
    const later = await fed.publishEpoch(r => allowProtocol(r, '/chain/four/1.0.0', ['validator']), { nodes: ['val-b'] })
    const update = await fromFile
    assert.deepEqual([update.epoch, update.previousEpoch], [later.epoch, next.epoch - 1])
  })
})
