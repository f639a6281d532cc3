import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { ENCRYPTER_PROTOCOL, refusalOf } from '../../node/index.ts'
import { presents, rogueNode } from '../node/rogue.ts'
import { addrOf, captureLog, createFederation, eventually, recordingEcho, CONSENSUS, type Federation } from '../node/fixture.ts'

/** A multistream-select message: varint length, then the line. */
function mss (line: string): Buffer {
  const data = Buffer.from(`${line}\n`)
  return Buffer.concat([Buffer.from([data.length]), data])
}

function portOf (addr: { toString (): string }): number {
  return Number(/\/tcp\/(\d+)/.exec(addr.toString())?.[1])
}

/** Writes `bytes` one at a time, `intervalMs` apart, until the socket closes. */
function trickle (socket: Socket, bytes: Buffer, intervalMs: number): void {
  let i = 0
  const timer = setInterval(() => {
    if (socket.destroyed || i >= bytes.length) {
      clearInterval(timer)
      return
    }
    socket.write(bytes.subarray(i, ++i))
  }, intervalMs)
  socket.on('close', () => { clearInterval(timer) })
}

/**
 * A peer that sends every byte slowly is cut at the first deadline it misses: the first-bytes
 * deadline while it has not chosen an encryption protocol, the handshake deadline afterwards. A
 * captured hello replayed on a new session from another key is refused. No handler ever runs.
 */
describe('adversarial: slow-loris at every byte, and a replayed hello', () => {
  let fed: Federation
  const sockets: Socket[] = []

  before(async () => {
    fed = await createFederation({
      members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }],
      policy: { limits: { firstBytesTimeout: '500ms', handshakeTimeout: '1500ms' } }
    })
  })
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    await fed.stopAll()
  })
  after(async () => { await fed.close() })

  for (const stage of ['negotiation', 'Noise'] as const) {
    it(`one byte at a time during ${stage}: cut at the ${stage === 'negotiation' ? 'first-bytes' : 'handshake'} deadline, logged as handshake-timeout`, async () => {
      const { log, lines } = captureLog()
      const victim = await fed.startNode('victim', { member: 'val-1', log })
      const recorder = recordingEcho()
      await victim.handle(CONSENSUS, recorder.handler)
      const socket = connect({ host: '127.0.0.1', port: portOf(addrOf(victim)) })
      sockets.push(socket)
      socket.on('error', () => {})
      const negotiate = Buffer.concat([mss('/multistream/1.0.0'), mss(ENCRYPTER_PROTOCOL)])
      if (stage === 'negotiation') {
        trickle(socket, negotiate, 200)
      } else {
        socket.write(negotiate)
        trickle(socket, Buffer.alloc(64, 7), 200)
      }
      const closed = new Promise(resolve => { socket.on('close', resolve) })
      await closed
      const expectedStage = stage === 'negotiation' ? 'accept' : 'handshake'
      await eventually(() => lines.some(l => l.event === 'refusal' && l.reason === 'handshake-timeout' && l.stage === expectedStage), `a handshake-timeout refusal at ${expectedStage}`)
      assert.deepEqual(recorder.calls, [])
      assert.deepEqual(victim.peers(), [])
    })
  }

  it('a hello captured from a member and replayed on a new session from another node key is refused with peer-mismatch', async () => {
    const victim = await fed.startNode('victim', { member: 'val-1' })
    const member = await fed.startNode('val-2')
    // The replayer completes Noise with its own key, then sends what the member's hello carries.
    const replayer = await rogueNode(await fed.nodeKey('replayer'), presents(member.credential))
    try {
      const err = await replayer.dial(addrOf(victim)).then(() => undefined, (e: unknown) => e)
      assert.deepEqual(refusalOf(err), { code: 'peer-mismatch', by: 'remote' })
      assert.deepEqual(victim.peers(), [])
      assert.ok(victim.refusals().some(r => r.code === 'peer-mismatch' && r.memberId === 'val-2'))
    } finally {
      await replayer.stop()
    }
  })
})
