import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Refusal } from '../../node/index.ts'
import { addrOf, captureLog, CONSENSUS, createFederation, echo, recordingEcho, rejection, waitFor, type Federation } from './fixture.ts'

const UNLISTED = '/chain/unlisted/1.0.0'

describe('the refused side of a stream reset learns why', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'rel-1', roles: ['relayer'] }] })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('a relayer refused on consensus gets a stream-reset event and a log line naming the protocol and the reason', async () => {
    const validator = await fed.startNode('val-1')
    const { log, lines } = captureLog()
    const relayer = await fed.startNode('rel-1', { log })
    const consensus = recordingEcho()
    await validator.handle(CONSENSUS, consensus.handler)

    const told = waitFor(relayer.gate, 'stream-reset', r => r.by === 'remote')
    const stream = await relayer.dialProtocol(addrOf(validator), CONSENSUS)
    await rejection(echo(stream, new TextEncoder().encode('vote')), 'a consensus stream as a relayer')
    const notice = await told
    assert.deepEqual(
      { code: notice.code, by: notice.by, stage: notice.stage, direction: notice.direction, protocol: notice.protocol, peerId: notice.peerId, memberId: notice.memberId },
      { code: 'protocol-not-allowed', by: 'remote', stage: 'stream', direction: 'outbound', protocol: CONSENSUS, peerId: validator.peerId, memberId: 'val-1' })
    assert.equal(consensus.calls.length, 0)
    const line = lines.find(l => l.event === 'stream-reset' && l.by === 'remote')
    assert.equal(line?.reason, 'protocol-not-allowed')
    assert.equal(line?.protocol, CONSENSUS)
    assert.ok(relayer.refusals().some(r => r.by === 'remote' && r.protocol === CONSENSUS))
  })

  it('a peer retrying a refused protocol in a loop is told once per interval', async () => {
    const validator = await fed.startNode('val-1')
    const relayer = await fed.startNode('rel-1')
    await validator.handle(CONSENSUS, recordingEcho().handler)
    await validator.handle(UNLISTED, recordingEcho().handler)
    const notices: Refusal[] = []
    relayer.gate.addEventListener('stream-reset', evt => { if (evt.detail.by === 'remote') notices.push(evt.detail) })
    const refusedStream = async (protocol: string): Promise<void> => {
      const stream = await relayer.dialProtocol(addrOf(validator), protocol)
      await rejection(echo(stream, new TextEncoder().encode('vote')), `a ${protocol} stream as a relayer`)
    }

    for (let i = 0; i < 5; i++) await refusedStream(CONSENSUS)
    assert.equal(validator.refusals().filter(r => r.protocol === CONSENSUS && r.by === 'local').length, 5)
    // Control: a notice sent after every consensus one has arrived, so any extra would have too.
    const control = waitFor(relayer.gate, 'stream-reset', r => r.by === 'remote' && r.protocol === UNLISTED)
    await refusedStream(UNLISTED)
    await control
    assert.equal(notices.filter(n => n.protocol === CONSENSUS).length, 1)
  })
})
