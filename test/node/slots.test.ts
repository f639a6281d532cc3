import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { noise, type NoiseComponents } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ConnectionEncrypter, Libp2p, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import {
  ENCRYPTER_PROTOCOL, MembershipRefusedError, refusalOf, revoke, type Credential, type FederationNode, type ReasonCode
} from '../../node/index.ts'
import { decodeHello, encodeHello, HELLO_VERSION } from '../../node/net/hello.ts'
import { addrOf, createFederation, eventually, LISTEN_LOCALHOST, metricValue, rejection, waitFor, type Federation } from './fixture.ts'

const VICTIM_MEMBER = 'val-1'
/** A member that may hold one connection on a node. */
const SINGLE = 'val-2'
/** A member that may hold two connections on a node. */
const PAIR = 'val-3'
const BURST = 6
const ROUNDS = 3

/** The dialled node refused every dial in `errors` for `code`, as the dialer learns it. */
function assertRemoteRefusals (errors: readonly unknown[], code: ReasonCode, count: number): void {
  assert.equal(errors.length, count)
  assert.deepEqual(errors.map(refusalOf), Array.from({ length: count }, () => ({ code, by: 'remote' })))
}

/** The refusals `node` recorded, as [code, by, stage, direction]. */
function refusalsOf (node: FederationNode): Array<[string, string, string, string]> {
  return node.refusals().map(r => [r.code, r.by, r.stage, r.direction])
}

/** Dials `target` from every node at once; returns the nodes that got a connection and the errors of the rest. */
async function burst (dialers: readonly FederationNode[], target: FederationNode): Promise<{ connected: FederationNode[], errors: unknown[] }> {
  const results = await Promise.allSettled(dialers.map(async dialer => dialer.dial(addrOf(target))))
  const connected: FederationNode[] = []
  const errors: unknown[] = []
  for (const [i, result] of results.entries()) {
    const dialer = dialers[i]
    if (result.status === 'fulfilled' && dialer !== undefined) connected.push(dialer)
    if (result.status === 'rejected') errors.push(result.reason)
  }
  return { connected, errors }
}

type RogueScript = (lp: LengthPrefixedStream<MessageStream>, signal: AbortSignal | undefined) => Promise<void>

/** Completes Noise honestly under fedgate's protocol id, then follows `script` instead of the membership exchange. */
function rogueEncrypter (script: RogueScript): (components: NoiseComponents) => ConnectionEncrypter {
  return components => {
    const inner = noise()(components)
    const run = async (secured: SecuredConnection, options?: SecureConnectionOptions): Promise<SecuredConnection> => {
      const lp = lpStream(secured.connection)
      await script(lp, options?.signal)
      return { ...secured, connection: lp.unwrap() }
    }
    return {
      protocol: ENCRYPTER_PROTOCOL,
      secureOutbound: async (connection, options) => run(await inner.secureOutbound(connection, options), options),
      secureInbound: async (connection, options) => run(await inner.secureInbound(connection, options), options)
    }
  }
}

/** A hello for `credential` that claims a protocol version this build does not speak. */
function futureHello (credential: Credential, verdict?: 'ok'): Uint8Array {
  const doc = JSON.parse(new TextDecoder().decode(encodeHello({ federation: credential.federation, rosterEpoch: 1, credential }, verdict))) as Record<string, unknown>
  return new TextEncoder().encode(JSON.stringify({ ...doc, v: HELLO_VERSION + 1 }))
}

/** Reads a verdict; a refusal is thrown the way fedgate reports it, so `refusalOf` reads it. */
async function readVerdict (lp: LengthPrefixedStream<MessageStream>, signal: AbortSignal | undefined): Promise<void> {
  const { verdict } = decodeHello((await lp.read({ signal })).subarray(), true)
  if (verdict !== 'ok' && verdict !== undefined) throw new MembershipRefusedError(verdict, 'remote')
}

describe('connection slots', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        { id: VICTIM_MEMBER, roles: ['validator'] },
        { id: SINGLE, roles: ['validator'], maxConnections: 1 },
        { id: PAIR, roles: ['validator'], maxConnections: 2 }
      ]
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it(`maxConnections 1: of ${BURST} node keys of one member dialling at once, exactly one is admitted (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const victim = await fed.startNode(`victim-${round}`, { member: VICTIM_MEMBER })
      const sybils = await Promise.all(Array.from({ length: BURST }, async (_, i) => fed.startNode(`single-${round}-${i}`, { member: SINGLE })))
      const { connected, errors } = await burst(sybils, victim)

      assert.equal(connected.length, 1, `round ${round}: one dial succeeds`)
      assertRemoteRefusals(errors, 'member-over-limit', BURST - 1)
      const winner = connected[0]?.peerId
      await eventually(() => victim.peers().length === 1, 'the victim to admit the winner')
      assert.deepEqual(victim.peers().map(p => [p.peerId, p.memberId]), [[winner, SINGLE]])
      assert.deepEqual(refusalsOf(victim), Array.from({ length: BURST - 1 }, () => ['member-over-limit', 'local', 'handshake', 'inbound']))
      assert.equal(await metricValue(victim, 'fedgate_handshakes_total', { result: 'refused', reason: 'member-over-limit' }), BURST - 1)
      assert.equal(await metricValue(victim, 'fedgate_handshakes_total', { result: 'admitted' }), 1)
      await fed.stopAll()
    }
  })

  it('maxConnections 2: two node keys are admitted, a third is refused until one of them leaves', async () => {
    const victim = await fed.startNode('victim', { member: VICTIM_MEMBER })
    const [a, b, c] = await Promise.all(['pair-a', 'pair-b', 'pair-c'].map(async name => fed.startNode(name, { member: PAIR })))
    assert.ok(a !== undefined && b !== undefined && c !== undefined)
    await a.dial(addrOf(victim))
    await b.dial(addrOf(victim))
    await eventually(() => victim.peers().length === 2, 'the victim to admit two nodes of the member')

    assertRemoteRefusals([await rejection(c.dial(addrOf(victim)), 'a third node of the member')], 'member-over-limit', 1)
    assert.deepEqual(refusalsOf(victim), [['member-over-limit', 'local', 'handshake', 'inbound']])

    await Promise.all([waitFor(victim.gate, 'disconnected', left => left.peerId === a.peerId), fed.stop('pair-a')])
    await c.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === c.peerId), 'the victim to admit the third node')
    assert.deepEqual(victim.peers().map(p => p.peerId).sort(), [b.peerId, c.peerId].sort())
    assert.deepEqual(refusalsOf(victim), [['member-over-limit', 'local', 'handshake', 'inbound'], ['shutdown', 'remote', 'live', 'inbound']])
  })

  it('a handshake the dialler refuses after the victim judged it releases the slot it reserved', async () => {
    const victim = await fed.startNode('victim', { member: VICTIM_MEMBER })
    // This dialler's roster revokes the victim, so it refuses the victim's reply after the victim admitted it.
    const distrustful = await fed.startNode('single-distrustful', { member: SINGLE, roster: fed.nextEpoch(r => revoke(r, { credential: victim.credential.fingerprint })) })
    const [, err] = await Promise.all([
      waitFor(victim.gate, 'refused'),
      rejection(distrustful.dial(addrOf(victim)), 'a dial to a node the dialler revoked')
    ])
    assert.deepEqual(refusalOf(err), { code: 'revoked', by: 'local' })
    assert.deepEqual(refusalsOf(victim), [['revoked', 'remote', 'handshake', 'inbound']])

    const single = await fed.startNode('single', { member: SINGLE })
    await single.dial(addrOf(victim))
    await eventually(() => victim.peers().length === 1, 'the victim to admit the member')
    assert.deepEqual(victim.peers().map(p => [p.peerId, p.memberId]), [[single.peerId, SINGLE]])
    assert.equal(victim.refusals().length, 1)
  })

  describe('one node key holding several connections counts once against its member', () => {
    it('a second connection of an admitted node key is admitted', async () => {
      const victim = await fed.startNode('victim', { member: VICTIM_MEMBER })
      const single = await fed.startNode('single', { member: SINGLE })
      await single.dial(addrOf(victim))
      await single.libp2p.dial(addrOf(victim), { force: true })
      await eventually(() => victim.libp2p.getConnections(single.libp2p.peerId).length === 2, 'two connections from the same node')
      assert.deepEqual(victim.peers().map(p => [p.peerId, p.memberId]), [[single.peerId, SINGLE]])
      assert.deepEqual(victim.refusals(), [])
      assert.equal(await metricValue(victim, 'fedgate_handshakes_total', { result: 'admitted' }), 2)

      const other = await fed.startNode('single-other', { member: SINGLE })
      assertRemoteRefusals([await rejection(other.dial(addrOf(victim)), 'another node key of the member')], 'member-over-limit', 1)
    })

    it('simultaneous connections in both directions between the same two nodes are both admitted', async () => {
      const victim = await fed.startNode('victim', { member: VICTIM_MEMBER })
      const single = await fed.startNode('single', { member: SINGLE })
      const [inbound, outbound] = await Promise.all([single.dial(addrOf(victim)), victim.dial(addrOf(single))])
      assert.equal(inbound.status, 'open')
      assert.equal(outbound.status, 'open')
      assert.deepEqual(victim.refusals(), [])
      assert.deepEqual(single.refusals(), [])
      assert.deepEqual(victim.peers().map(p => [p.peerId, p.memberId]), [[single.peerId, SINGLE]])
    })
  })

  describe('node-wide inbound limit', () => {
    let limited: Federation
    const MEMBERS = ['val-1', 'val-2', 'val-3', 'val-4', 'val-5']

    before(async () => {
      limited = await createFederation({
        members: MEMBERS.map(id => ({ id, roles: ['validator'] })),
        policy: { limits: { maxInboundConnections: 2 } }
      })
    })
    afterEach(async () => { await limited.stopAll() })
    after(async () => { await limited.close() })

    it('maxInboundConnections 2: a third member dialling in is refused with connection-limit; dialling out is not limited by it', async () => {
      const victim = await limited.startNode('val-1')
      const [first, second, third] = await Promise.all(['val-2', 'val-3', 'val-4'].map(async id => limited.startNode(id)))
      assert.ok(first !== undefined && second !== undefined && third !== undefined)
      assert.equal(victim.roster.policy.limits.maxInboundConnections, 2)
      await first.dial(addrOf(victim))
      await second.dial(addrOf(victim))

      assertRemoteRefusals([await rejection(third.dial(addrOf(victim)), 'a third inbound connection')], 'connection-limit', 1)
      assert.deepEqual(refusalsOf(victim), [['connection-limit', 'local', 'handshake', 'inbound']])
      assert.deepEqual(victim.peers().map(p => p.peerId).sort(), [first.peerId, second.peerId].sort())

      await victim.dial(addrOf(third))
      await eventually(() => victim.peers().length === 3, 'the victim to admit its outbound connection')
      assert.equal(victim.peers().find(p => p.peerId === third.peerId)?.direction, 'outbound')
    })

    it('maxInboundConnections 2: of four members dialling at once, exactly two are admitted', async () => {
      const victim = await limited.startNode('val-1')
      const dialers = await Promise.all(['val-2', 'val-3', 'val-4', 'val-5'].map(async id => limited.startNode(id)))
      const { connected, errors } = await burst(dialers, victim)
      assert.equal(connected.length, 2)
      assertRemoteRefusals(errors, 'connection-limit', 2)
      await eventually(() => victim.peers().length === 2, 'the victim to admit two members')
      assert.deepEqual(victim.peers().map(p => p.peerId).sort(), connected.map(n => n.peerId).sort())
    })
  })

  describe('hello version', () => {
    const rogues: Libp2p[] = []
    afterEach(async () => { await Promise.all(rogues.splice(0).map(async node => node.stop())) })

    async function rogue (script: RogueScript, listen: boolean): Promise<Libp2p> {
      const node = await createLibp2p({
        privateKey: (await fed.nodeKey('rogue')).privateKey,
        addresses: { listen: listen ? [LISTEN_LOCALHOST] : [] },
        transports: [tcp()],
        connectionEncrypters: [rogueEncrypter(script)],
        streamMuxers: [yamux()],
        connectionMonitor: { enabled: false }
      })
      rogues.push(node)
      return node
    }

    it('a dialler whose hello claims another version: version-mismatch', async () => {
      const victim = await fed.startNode('victim', { member: VICTIM_MEMBER })
      const credential = await fed.issue('rogue', { member: SINGLE })
      const node = await rogue(async (lp, signal) => {
        await lp.write(futureHello(credential), { signal })
        await readVerdict(lp, signal)
      }, false)
      const [refusal, err] = await Promise.all([
        waitFor(victim.gate, 'refused'),
        rejection(node.dial(addrOf(victim)), 'a dial with a future hello version')
      ])
      assert.deepEqual(refusalOf(err), { code: 'version-mismatch', by: 'remote' })
      assert.equal(refusal.peerId, node.peerId.toString())
      assert.deepEqual(refusalsOf(victim), [['version-mismatch', 'local', 'handshake', 'inbound']])
      assert.equal(await metricValue(victim, 'fedgate_handshakes_total', { result: 'refused', reason: 'version-mismatch' }), 1)
      assert.deepEqual(victim.peers(), [])
    })

    it('a listener whose reply claims another version: version-mismatch', async () => {
      const victim = await fed.startNode('victim', { member: VICTIM_MEMBER })
      const credential = await fed.issue('rogue', { member: SINGLE })
      const node = await rogue(async (lp, signal) => {
        await lp.read({ signal })
        await lp.write(futureHello(credential, 'ok'), { signal })
        await readVerdict(lp, signal)
      }, true)
      const err = await rejection(victim.dial(addrOf(node)), 'dialling a listener with a future hello version')
      assert.deepEqual(refusalOf(err), { code: 'version-mismatch', by: 'local' })
      assert.deepEqual(refusalsOf(victim), [['version-mismatch', 'local', 'handshake', 'outbound']])
      assert.deepEqual(victim.peers(), [])
    })
  })
})
