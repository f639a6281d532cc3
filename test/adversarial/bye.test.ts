import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { BYE_PROTOCOL, revoke } from '../../node/index.ts'
import { decodeVerdict, encodeVerdict } from '../../node/net/hello.ts'
import { addrOf, CONSENSUS, createFederation, eventually, recordingEcho, waitFor, WAIT_MS, type Federation } from '../node/fixture.ts'

/**
 * A member that sends fedgate's bye right after admission but keeps its connection open must gain
 * nothing: the victim closes the connection itself, frees the slot, and live enforcement never
 * treats the peer's word as its own decision to close.
 */
describe('adversarial: a bye that keeps the connection open', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'], maxConnections: 1 }] })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('the victim closes the connection itself, lists the peer no more, and admits the member\'s next node', async () => {
    const victim = await fed.startNode('victim', { member: 'val-1' })
    const recorder = recordingEcho()
    await victim.handle(CONSENSUS, recorder.handler)
    const mallory = await fed.startNode('val-2')
    const connection = await mallory.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === mallory.peerId), 'the victim to admit val-2')

    const dropped = waitFor(victim.gate, 'disconnected', d => d.peerId === mallory.peerId)
    // Mallory says it is shutting down, acknowledges nothing further, and keeps its side open.
    const stream = await connection.newStream(BYE_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 256 })
    await lp.write(encodeVerdict('shutdown'), { signal: AbortSignal.timeout(WAIT_MS) })
    assert.equal(decodeVerdict((await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })).subarray()), 'ok')

    const gone = await dropped
    assert.equal(gone.code, 'shutdown', 'the peer\'s reason is recorded')
    assert.deepEqual(victim.peers(), [])
    assert.equal(victim.libp2p.getConnections(mallory.libp2p.peerId).length, 0, 'the victim closed the connection itself')
    // The slot is free again: the member's limit (1 node key) admits its next node at once.
    const next = await fed.startNode('val-2b', { member: 'val-2' })
    await next.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === next.peerId), 'the member\'s next node to be admitted')
  })

  it('a revoking epoch still closes a connection whose peer said bye and kept it open', async () => {
    const victim = await fed.startNode('victim', { member: 'val-1' })
    const mallory = await fed.startNode('val-2')
    const connection = await mallory.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === mallory.peerId), 'the victim to admit val-2')
    const stream = await connection.newStream(BYE_PROTOCOL)
    await lpStream(stream, { maxDataLength: 256 }).write(encodeVerdict('shutdown'))
    // Whatever the bye did, once the epoch lands nothing of val-2 is left on the victim.
    await fed.publishEpoch(r => revoke(r, { member: 'val-2' }), { nodes: ['victim'] })
    await eventually(() => victim.libp2p.getConnections(mallory.libp2p.peerId).length === 0, 'no connection to the revoked member')
    assert.deepEqual(victim.peers(), [])
  })
})
