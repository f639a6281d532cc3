import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Libp2p, Stream, StreamHandler } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { TypedEventEmitter } from 'main-event'
import writeFileAtomic from 'write-file-atomic'
import {
  allowProtocol, BYE_PROTOCOL, FederationGate, federationService, RENEW_PROTOCOL, RosterStore, withFederation, type FederationNode, type Refusal
} from '../../node/index.ts'
import {
  addrOf, BRIDGE, CONSENSUS, createFederation, echo, eventually, metricValue, rejection, STANDARD_PROTOCOLS, waitFor,
  type Federation
} from './fixture.ts'

/** A protocol the roster opens to validators, whose handler a libp2p service registers. */
const SERVICE = '/chain/service/1.0.0'
/** A protocol with a handler but no entry in the roster's policy.protocols. */
const UNLISTED = '/unlisted/1.0.0'
const MESSAGE = new TextEncoder().encode('ping')

interface RawCall {
  readonly protocol: string
  readonly peerId: string
}

/** A plain libp2p echo handler (no fedgate wrapper) that records every invocation. */
function rawEcho (): { handler: StreamHandler, calls: RawCall[] } {
  const calls: RawCall[] = []
  const handler: StreamHandler = async (stream, connection) => {
    calls.push({ protocol: stream.protocol ?? '', peerId: connection.remotePeer.toString() })
    const lp = lpStream(stream)
    await lp.write((await lp.read()).subarray())
    await stream.close()
  }
  return { handler, calls }
}

/** The part of libp2p's registrar a service uses to register its own handlers. */
interface HandlerRegistrar {
  handle (protocol: string, handler: StreamHandler): Promise<void>
  unhandle (protocol: string): Promise<void>
}

/** A libp2p service that registers `handler` on `protocols` straight with the registrar when libp2p starts. */
function handlerService (protocols: readonly string[], handler: StreamHandler): (components: { registrar: HandlerRegistrar }) => { start (): Promise<void>, stop (): Promise<void> } {
  return components => ({
    async start () {
      for (const protocol of protocols) await components.registrar.handle(protocol, handler)
    },
    async stop () {
      for (const protocol of protocols) await components.registrar.unhandle(protocol)
    }
  })
}

/** Opens `protocol` from `dialer` and returns the listener's stream reset once the dialer's read fails. */
async function denied (dialer: FederationNode, listener: FederationNode, protocol: string): Promise<Refusal> {
  const [refusal] = await Promise.all([
    waitFor(listener.gate, 'stream-reset', reset => reset.protocol === protocol && reset.peerId === dialer.peerId),
    dialer.dialProtocol(addrOf(listener), protocol).then(async stream => rejection(echo(stream, MESSAGE), `reading ${protocol}`))
  ])
  return refusal
}

describe('stream guard at the registrar', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-1', roles: ['validator'] },
        { id: 'val-2', roles: ['validator'] },
        { id: 'rel-1', roles: ['relayer'] }
      ],
      protocols: { ...STANDARD_PROTOCOLS, [SERVICE]: ['validator'] }
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('guards handlers a libp2p service registers with the registrar', async () => {
    const service = rawEcho()
    const victim = await fed.startNode('val-1', { libp2p: { services: { chain: handlerService([SERVICE, UNLISTED], service.handler) } } })
    const validator = await fed.startNode('val-2')
    const relayer = await fed.startNode('rel-1')

    const refusal = await denied(relayer, victim, SERVICE)
    assert.deepEqual([refusal.code, refusal.by, refusal.stage, refusal.memberId], ['protocol-not-allowed', 'local', 'stream', 'rel-1'])
    assert.deepEqual(service.calls, [], 'a relayer never reaches the service handler')
    assert.equal(await metricValue(victim, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: SERVICE }), 1)

    const unlisted = await denied(validator, victim, UNLISTED)
    assert.deepEqual([unlisted.code, unlisted.stage, unlisted.memberId], ['protocol-not-allowed', 'stream', 'val-2'])
    assert.deepEqual(service.calls, [], 'an unlisted protocol is denied even to a validator')
    assert.equal(await metricValue(victim, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: UNLISTED }), 1)

    assert.deepEqual(await echo(await validator.dialProtocol(addrOf(victim), SERVICE), MESSAGE), MESSAGE)
    assert.deepEqual(service.calls, [{ protocol: SERVICE, peerId: validator.peerId }])
    assert.deepEqual(victim.refusals().map(r => [r.code, r.stage, r.protocol]), [['protocol-not-allowed', 'stream', SERVICE], ['protocol-not-allowed', 'stream', UNLISTED]])
    assert.deepEqual(victim.peers().map(p => p.memberId).sort(), ['rel-1', 'val-2'], 'refused streams leave the connections up')
  })

  it('guards handlers registered with libp2p.handle directly, and lets allowed peers through', async () => {
    const victim = await fed.startNode('val-1')
    const validator = await fed.startNode('val-2')
    const relayer = await fed.startNode('rel-1')
    const consensus = rawEcho()
    await victim.libp2p.handle(CONSENSUS, consensus.handler)

    const refusal = await denied(relayer, victim, CONSENSUS)
    assert.deepEqual([refusal.code, refusal.stage, refusal.memberId], ['protocol-not-allowed', 'stream', 'rel-1'])
    assert.deepEqual(consensus.calls, [])
    assert.equal(await metricValue(victim, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: CONSENSUS }), 1)

    assert.deepEqual(await echo(await validator.dialProtocol(addrOf(victim), CONSENSUS), MESSAGE), MESSAGE)
    assert.deepEqual(consensus.calls, [{ protocol: CONSENSUS, peerId: validator.peerId }])
  })

  it('use() middleware runs once per allowed stream, before its handler, and never for a denied one', async () => {
    const victim = await fed.startNode('val-1')
    const validator = await fed.startNode('val-2')
    const relayer = await fed.startNode('rel-1')
    const seen: string[] = []
    victim.libp2p.use(CONSENSUS, (stream, connection, next) => {
      seen.push(`middleware ${stream.id}`)
      next(stream, connection)
    })
    let finished = 0
    await victim.handle(CONSENSUS, async stream => {
      seen.push(`handler ${stream.id}`)
      const lp = lpStream(stream)
      await lp.write((await lp.read()).subarray())
      await stream.close()
      finished++
    })

    const STREAMS = 3
    for (let i = 0; i < STREAMS; i++) assert.deepEqual(await echo(await validator.dialProtocol(addrOf(victim), CONSENSUS), MESSAGE), MESSAGE)
    // A handler copy left behind by an earlier stream would run right after a handler finishes.
    await eventually(() => finished === STREAMS, 'every handler to finish')
    const ids = seen.filter(entry => entry.startsWith('middleware ')).map(entry => entry.slice('middleware '.length))
    assert.equal(new Set(ids).size, STREAMS)
    assert.deepEqual(seen, ids.flatMap(id => [`middleware ${id}`, `handler ${id}`]))

    const refusal = await denied(relayer, victim, CONSENSUS)
    assert.equal(refusal.code, 'protocol-not-allowed')
    assert.equal(seen.length, 2 * STREAMS, 'the guard stops a denied stream before any middleware')
  })

  it('a roster epoch that withdraws a protocol from a role resets its open streams but keeps the connection', async () => {
    const victim = await fed.startNode('val-1')
    const validator = await fed.startNode('val-2')
    const relayer = await fed.startNode('rel-1')
    const held = new Map<string, Stream>()
    const received = new Map<string, number>()
    await victim.handle(BRIDGE, async (stream, _connection, peer) => {
      held.set(peer.memberId, stream)
      // Long-lived: reads until the dialer closes the stream or it is reset.
      for await (const chunk of stream) received.set(peer.memberId, (received.get(peer.memberId) ?? 0) + chunk.byteLength)
    })
    const relayed = await relayer.dialProtocol(addrOf(victim), BRIDGE)
    const validated = await validator.dialProtocol(addrOf(victim), BRIDGE)
    relayed.send(MESSAGE)
    validated.send(MESSAGE)
    await eventually(() => received.size === 2, 'both bridge handlers to read from their streams')

    await fed.publishEpoch(r => allowProtocol(r, BRIDGE, ['validator']))

    assert.deepEqual(victim.refusals().map(r => [r.code, r.by, r.stage, r.memberId, r.protocol]), [['protocol-not-allowed', 'local', 'live', 'rel-1', BRIDGE]])
    assert.equal(await metricValue(victim, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: BRIDGE }), 1)
    assert.equal(held.get('rel-1')?.status, 'aborted')
    await eventually(() => relayed.status !== 'open', "the relayer's bridge stream to be reset")
    assert.equal(held.get('val-2')?.status, 'open', 'a validator keeps its bridge stream')
    assert.equal(validated.status, 'open')
    assert.deepEqual(victim.peers().map(p => p.memberId).sort(), ['rel-1', 'val-2'], 'the relayer is still admitted')
    assert.deepEqual(relayer.libp2p.getConnections().map(c => c.status), ['open'])

    const again = await denied(relayer, victim, BRIDGE)
    assert.deepEqual([again.code, again.stage], ['protocol-not-allowed', 'stream'])
    await validated.close()
  })

  it('a roster epoch that withdraws a protocol resets every open stream of it on a connection, not every other one', async () => {
    const victim = await fed.startNode('val-1')
    const relayer = await fed.startNode('rel-1')
    const blocks = '/chain/blocks/1.0.0'
    await fed.publishEpoch(r => allowProtocol(r, blocks, ['validator', 'relayer']))
    await victim.handle(blocks, async stream => {
      for await (const chunk of stream) stream.send(chunk)
    }, { maxInboundStreams: 8 })
    const streams = await Promise.all([1, 2, 3, 4].map(async () => await relayer.dialProtocol(addrOf(victim), blocks)))
    await fed.publishEpoch(r => allowProtocol(r, blocks, ['validator']))
    await eventually(() => streams.every(s => s.status !== 'open'), 'all four streams of the withdrawn protocol to be reset')
    assert.equal(await metricValue(victim, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: blocks }), 4)
  })

  describe('wiring', () => {
    const started: Array<{ stop (): Promise<void> }> = []
    let home: string

    afterEach(async () => {
      for (const item of started.splice(0).reverse()) await item.stop()
      await rm(home, { recursive: true, force: true })
    })

    async function gate (): Promise<FederationGate> {
      home = join(fed.dir, 'wiring')
      await mkdir(home, { recursive: true })
      const rosterFile = join(home, 'roster.json')
      await writeFileAtomic(rosterFile, fed.roster.encode())
      const store = new RosterStore({ dataDir: join(home, 'data'), rosterFile })
      await store.open()
      started.push({ stop: async () => store.close() })
      return new FederationGate({ nodeKey: await fed.nodeKey('lone'), credential: await fed.issue('lone', { member: 'val-1' }), store, bans: false })
    }

    it('refuses to create a node whose registrar lacks the hooked shape: UnguardableRegistrarError', async () => {
      const unguardable = await gate()
      const registrar = { handle: async () => {}, unhandle: async () => {}, getHandler: () => { throw new Error('unused') } }
      const connectionManager = { openConnection: async () => { throw new Error('unused') } }
      const err = await rejection((async () => federationService(unguardable)({ registrar, events: new TypedEventEmitter(), connectionManager }))(), 'creating the service')
      assert.ok(err instanceof Error)
      assert.equal(err.name, 'UnguardableRegistrarError')
    })

    it('a node wired without the fedgate service refuses every connection (the gater fails closed)', async () => {
      const unserved = await gate()
      const wired = withFederation(unserved)
      const node = await createLibp2p({
        privateKey: wired.privateKey,
        connectionEncrypters: wired.connectionEncrypters,
        connectionGater: wired.connectionGater,
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        streamMuxers: [yamux()]
      })
      started.push({ stop: async () => node.stop() })
      const member = await fed.startNode('val-2')
      const opened: string[] = []
      node.addEventListener('connection:open', evt => { opened.push(evt.detail.id) })
      const dialled = await member.dial(addrOf(node)).catch(() => undefined)
      if (dialled !== undefined) await eventually(() => dialled.status !== 'open', 'the refused connection to close on the dialler')
      assert.deepEqual(opened, [], 'no connection opened on the node without the service')
      assert.equal(node.getConnections().length, 0)
      await fed.stop('val-2')
    })

    it('a node that runs withFederation(gate) serves the bye and renewal protocols', async () => {
      const served = await gate()
      const node = await createLibp2p({ ...withFederation(served), transports: [tcp()], streamMuxers: [yamux()] })
      started.push({ stop: async () => node.stop() })
      assert.deepEqual(node.getProtocols().filter(p => p === RENEW_PROTOCOL || p === BYE_PROTOCOL).sort(), [RENEW_PROTOCOL, BYE_PROTOCOL].sort())
    })
  })
})
