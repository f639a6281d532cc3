import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Connection } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import { allowProtocol, BYE_PROTOCOL, refusalOf, revoke } from '../../node/index.ts'
import {
  addrOf, CONSENSUS, createFederation, eventually, recordingEcho, rejection, type Federation
} from './fixture.ts'

const VALIDATORS = ['val-1', 'val-2', 'val-3', 'val-4']

/** The muxer of a connection, to open a raw stream that never negotiates a protocol. */
interface RawMuxer {
  createStream (options: object): Promise<unknown>
}

describe('authenticated node: hardening', () => {
  let fed: Federation
  const outsiders: Libp2p[] = []

  before(async () => {
    fed = await createFederation({
      members: VALIDATORS.map(id => ({ id, roles: ['validator'] })),
      policy: { limits: { maxInboundConnections: 2 } }
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => {
    await Promise.all(outsiders.map(async o => o.stop()))
    await fed.close()
  })

  it('an unrelated roster epoch leaves a stream that is still negotiating its protocol alone', async () => {
    const victim = await fed.startNode('val-1')
    const peer = await fed.startNode('val-2')
    const connection = await peer.dial(addrOf(victim)) as Connection & { muxer: RawMuxer }
    await connection.muxer.createStream({})
    await eventually(() => victim.libp2p.getConnections(peer.libp2p.peerId).some(c => c.streams.length > 0), 'the raw stream to reach the victim')
    await fed.publishEpoch(r => allowProtocol(r, '/chain/unrelated/1.0.0', ['validator']))
    assert.deepEqual(victim.refusals(), [])
  })

  it('a peer being disconnected cannot open a chain protocol while its bye is in flight', async () => {
    const victim = await fed.startNode('val-1')
    const calls = recordingEcho()
    await victim.handle(CONSENSUS, calls.handler)
    const revoked = await fed.startNode('val-3')
    // The revoked peer answers the bye by opening consensus instead of acknowledging.
    await revoked.libp2p.unhandle(BYE_PROTOCOL)
    let reply: string | undefined
    await revoked.libp2p.handle(BYE_PROTOCOL, async (_stream, connection) => {
      try {
        const lp = lpStream(await connection.newStream(CONSENSUS))
        await lp.write(new TextEncoder().encode('after revocation'))
        reply = new TextDecoder().decode((await lp.read()).subarray())
      } catch {
        reply = undefined
      }
    })
    await revoked.dial(addrOf(victim))
    await eventually(() => victim.peers().length === 1, 'the victim to admit val-3')
    await fed.publishEpoch(r => revoke(r, { member: 'val-3' }), { nodes: ['val-1'] })
    await eventually(() => victim.peers().length === 0, 'the revoked peer to be gone')
    assert.deepEqual(calls.calls, [], 'no consensus handler ran for the revoked member')
    assert.equal(reply, undefined)
    assert.ok(victim.refusals().some(r => r.stage === 'stream' && r.protocol === CONSENSUS && r.code === 'revoked'))
  })

  it('one node key with several connections takes one inbound slot, not several', async () => {
    const victim = await fed.startNode('val-1')
    const hog = await fed.startNode('val-2')
    const other = await fed.startNode('val-4')
    await hog.dial(addrOf(victim))
    await hog.libp2p.dial(addrOf(victim), { force: true })
    await eventually(() => victim.libp2p.getConnections().length === 2, 'two connections from one node key')
    await other.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.memberId === 'val-4'), 'a second member to get the other inbound slot')
    assert.deepEqual(victim.refusals(), [])
  })

  it('a plain-Noise refusal marks the peer as an outsider briefly, and a roster change forgets it', async () => {
    const victim = await fed.startNode('val-1')
    const stock = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false }
    })
    outsiders.push(stock)
    await stock.dial(addrOf(victim)).catch(() => undefined)
    await eventually(() => victim.refusals().some(r => r.code === 'no-credential' && r.peerId === stock.peerId.toString()), 'the victim to refuse the stock node')
    const stockAddr = stock.getMultiaddrs()[0]
    assert.ok(stockAddr !== undefined)
    // Remembered: a DHT handing out this address costs no further dial.
    const denied = await rejection(victim.dial(stockAddr), 'a dial to the remembered outsider')
    assert.equal(refusalOf(denied), undefined, 'denied by the gater before any connection')
    assert.match(String(denied), /denied|gater|DialDenied/i)
    // A new epoch forgets it: dialled again, it meets the membership exchange (refused before Noise).
    await fed.publishEpoch(r => allowProtocol(r, '/chain/unused/1.0.0', ['validator']), { nodes: ['val-1'] })
    const err = await rejection(victim.dial(stockAddr), 'a dial to the stock node')
    assert.deepEqual(refusalOf(err), { code: 'no-credential', by: 'local' })
  })
})
