import { after, afterEach, before, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { Credential, isoTime, MAX_HELLO_BYTES, refusalOf, type FederationNode, type ReasonCode } from '../../node/index.ts'
import { presents, readVerdict, rogueNode, type RogueScript } from './rogue.ts'
import {
  addrOf, BRIDGE, captureLog, CONSENSUS, createFederation, echo, eventually, HEADERS, metricValue, recordingEcho, rejection,
  waitFor, type Federation, type HandlerCall, type StartNodeOptions
} from './fixture.ts'

const HOUR_MS = 3_600_000
const VICTIM = 'victim'
const VICTIM_MEMBER = 'val-1'
const MEMBERS = [
  { id: VICTIM_MEMBER, roles: ['validator'] },
  { id: 'val-2', roles: ['validator'] },
  { id: 'light-1', roles: ['light-client'] }
]

describe('authenticated node: attacks', () => {
  let fed: Federation
  /** A federation of the same name with its own admins: its credentials look right and are not. */
  let impostors: Federation
  /** Another federation that also has a member called val-2. */
  let otherFed: Federation
  let victim: FederationNode
  let calls: HandlerCall[]
  const outsiders: Libp2p[] = []

  before(async () => {
    fed = await createFederation({ members: MEMBERS })
    impostors = await createFederation({ federation: fed.name, members: [{ id: 'val-2', roles: ['validator'] }, { id: 'intruder', roles: ['validator'] }] })
    otherFed = await createFederation({ federation: 'other-fed', members: [{ id: 'val-2', roles: ['validator'] }] })
  })
  after(async () => {
    await Promise.all([fed.close(), impostors.close(), otherFed.close()])
  })

  /** Starts the victim validator with a recording handler on every chain protocol. */
  async function startVictim (opts: StartNodeOptions = {}): Promise<void> {
    victim = await fed.startNode(VICTIM, { member: VICTIM_MEMBER, ...opts })
    const recorder = recordingEcho()
    calls = recorder.calls
    for (const protocol of [CONSENSUS, BRIDGE, HEADERS]) await victim.handle(protocol, recorder.handler)
  }

  async function rogue (script: RogueScript): Promise<Libp2p> {
    const node = await rogueNode(await fed.nodeKey('rogue'), script)
    outsiders.push(node)
    return node
  }

  /** The victim refused one inbound handshake for `code` and no handler ever ran. */
  async function assertRefused (code: ReasonCode): Promise<void> {
    assert.deepEqual(victim.refusals().map(r => [r.code, r.by, r.stage, r.direction]), [[code, 'local', 'handshake', 'inbound']])
    assert.equal(await metricValue(victim, 'fedgate_handshakes_total', { result: 'refused', reason: code }), 1)
    assert.equal(await metricValue(victim, 'fedgate_handshakes_total', { result: 'admitted' }), 0)
    assert.deepEqual(victim.peers(), [])
    assert.deepEqual(victim.libp2p.getConnections(), [])
    assert.deepEqual(calls, [], 'no protocol handler was invoked')
  }

  /** Dials the victim's consensus protocol with `dialer`, waits for the victim's refusal, and returns the dial error. */
  async function attack (dialer: Libp2p | FederationNode): Promise<unknown> {
    const [, err] = await Promise.all([
      waitFor(victim.gate, 'refused'),
      rejection(dialer.dialProtocol(addrOf(victim), CONSENSUS), 'the attacker dial')
    ])
    return err
  }

  afterEach(async () => {
    await Promise.all(outsiders.splice(0).map(async node => node.stop()))
    await Promise.all([fed.stopAll(), impostors.stopAll(), otherFed.stopAll()])
  })

  describe('against a validator', () => {
    beforeEach(async () => { await startVictim() })

    it('control: the rogue harness with a valid credential is admitted and reaches consensus', async () => {
      const credential = await fed.issue('rogue', { member: 'val-2' })
      const node = await rogue(presents(credential))
      const message = new TextEncoder().encode('vote')
      assert.deepEqual(await echo(await node.dialProtocol(addrOf(victim), CONSENSUS), message), message)
      assert.equal(calls.length, 1)
      assert.equal(calls[0]?.peer.memberId, 'val-2')
    })

    it('a stock libp2p node (Noise + yamux, no fedgate): no-credential, named by the key it proved', async () => {
      const stock = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
      outsiders.push(stock)
      const [refusal, err] = await Promise.all([
        waitFor(victim.gate, 'refused'),
        rejection(stock.dialProtocol(addrOf(victim), CONSENSUS), 'a stock libp2p dial')
      ])
      assert.ok(err instanceof Error)
      assert.equal(refusal.peerId, stock.peerId.toString())
      await assertRefused('no-credential')
      await eventually(() => stock.getConnections().length === 0, 'the stock node losing its connection')
    })

    it('a stock libp2p node that is dialled is refused by the dialling fedgate node: no-credential', async () => {
      const stock = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
      outsiders.push(stock)
      const err = await rejection(victim.dial(stock.getMultiaddrs()[0] ?? ''), 'a dial to a stock node')
      assert.deepEqual(refusalOf(err), { code: 'no-credential', by: 'local' })
      assert.deepEqual(victim.refusals().map(r => [r.code, r.by, r.direction, r.peerId]), [['no-credential', 'local', 'outbound', stock.peerId.toString()]])
      assert.deepEqual(victim.peers(), [])
    })

    it('a valid credential copied onto another node key: peer-mismatch', async () => {
      const stolen = await fed.issue('val-2')
      const err = await attack(await rogue(presents(stolen)))
      assert.deepEqual(refusalOf(err), { code: 'peer-mismatch', by: 'remote' })
      await assertRefused('peer-mismatch')
    })

    it('an expired credential: expired', async () => {
      const credential = await fed.issue('rogue', { member: 'val-2', notBefore: Date.now() - 3 * HOUR_MS, ttlMs: HOUR_MS })
      const err = await attack(await rogue(presents(credential)))
      assert.deepEqual(refusalOf(err), { code: 'expired', by: 'remote' })
      await assertRefused('expired')
    })

    it('a credential that is not valid yet: not-yet-valid', async () => {
      const credential = await fed.issue('rogue', { member: 'val-2', notBefore: Date.now() + HOUR_MS })
      const err = await attack(await rogue(presents(credential)))
      assert.deepEqual(refusalOf(err), { code: 'not-yet-valid', by: 'remote' })
      await assertRefused('not-yet-valid')
    })

    it('a credential from another federation with the same member id: federation-mismatch', async () => {
      const attacker = await otherFed.startNode('val-2')
      const err = await attack(attacker)
      assert.deepEqual(refusalOf(err), { code: 'federation-mismatch', by: 'remote' })
      assert.deepEqual(attacker.refusals().map(r => [r.code, r.by]), [['federation-mismatch', 'remote']])
      await assertRefused('federation-mismatch')
    })

    it('a credential signed by a key the roster does not list for the member: bad-signature', async () => {
      const attacker = await impostors.startNode('val-2')
      const err = await attack(attacker)
      assert.deepEqual(refusalOf(err), { code: 'bad-signature', by: 'remote' })
      await assertRefused('bad-signature')
    })

    it('a credential whose notAfter was pushed back after signing: bad-signature', async () => {
      const genuine = await fed.issue('rogue', { member: 'val-2', ttlMs: HOUR_MS })
      const tampered = Credential.fromJSON({ ...genuine.document, notAfter: isoTime(genuine.notAfterMs + 24 * HOUR_MS) })
      const err = await attack(await rogue(presents(tampered)))
      assert.deepEqual(refusalOf(err), { code: 'bad-signature', by: 'remote' })
      await assertRefused('bad-signature')
    })

    it('a member the roster does not list: unknown-member', async () => {
      const attacker = await impostors.startNode('intruder')
      const err = await attack(attacker)
      assert.deepEqual(refusalOf(err), { code: 'unknown-member', by: 'remote' })
      await assertRefused('unknown-member')
    })

    it('a role the validator does not accept: role-not-accepted', async () => {
      const light = await fed.startNode('light-1')
      const err = await attack(light)
      assert.deepEqual(refusalOf(err), { code: 'role-not-accepted', by: 'remote' })
      assert.deepEqual(light.peers(), [])
      await assertRefused('role-not-accepted')
    })

    it('an oversized hello: malformed', async () => {
      const node = await rogue(async (lp, _secured, signal) => {
        await lp.write(new Uint8Array(MAX_HELLO_BYTES + 1).fill(0x7b), { signal })
        await readVerdict(lp, signal)
      })
      const err = await attack(node)
      assert.deepEqual(refusalOf(err), { code: 'malformed', by: 'remote' })
      await assertRefused('malformed')
    })

    it('a truncated hello (the length prefix promises more than is sent): malformed', async () => {
      const node = await rogue(async (_lp, secured, signal) => {
        // varint 1000, then 10 of the promised 1000 bytes, then end of stream
        secured.connection.send(Uint8Array.from([0xe8, 0x07, ...new TextEncoder().encode('{"v":1,"fe')]))
        await secured.connection.close({ signal })
        throw new Error('rogue: sent a truncated hello')
      })
      await attack(node)
      await assertRefused('malformed')
    })
  })

  describe('slow peers', () => {
    let slowFed: Federation

    before(async () => {
      slowFed = await createFederation({ members: MEMBERS, policy: { limits: { handshakeTimeout: '1s' } } })
    })
    afterEach(async () => { await slowFed.stopAll() })
    after(async () => { await slowFed.close() })

    it('a peer that completes Noise and then stays silent is cut at the deadline: handshake-timeout', async () => {
      victim = await slowFed.startNode(VICTIM, { member: VICTIM_MEMBER })
      const recorder = recordingEcho()
      calls = recorder.calls
      await victim.handle(CONSENSUS, recorder.handler)
      assert.equal(victim.roster.policy.limits.handshakeTimeoutMs, 1000)
      let noiseDone = false
      const node = await rogue(async (_lp, secured) => {
        noiseDone = true
        await new Promise(resolve => { secured.connection.addEventListener('close', resolve, { once: true }) })
        throw new Error('rogue: cut off')
      })
      await attack(node)
      assert.ok(noiseDone, 'the rogue completed Noise')
      await assertRefused('handshake-timeout')
    })
  })

  describe('bans', () => {
    it('refusals that prove an IP is not a member ban it: its plain-Noise dialers cost no Noise work, a member from it still gets in', async () => {
      const { log, lines } = captureLog()
      await startVictim({ bans: { failures: 3, windowMs: 60_000, baseBanMs: 60_000 }, log })

      // Refusals that say nothing about membership (an expired member, a full node) never count.
      const expired = await fed.issue('rogue', { member: 'val-2', notBefore: Date.now() - 3 * HOUR_MS, ttlMs: HOUR_MS })
      const lapsed = await rogue(presents(expired))
      for (let i = 0; i < 3; i++) assert.deepEqual(refusalOf(await attack(lapsed)), { code: 'expired', by: 'remote' })
      assert.deepEqual(lines.filter(line => line.event === 'ban'), [])

      const forged = await impostors.issue('rogue', { member: 'intruder', peer: (await fed.nodeKey('rogue')).peerId })
      const forger = await rogue(presents(forged))
      for (let i = 0; i < 3; i++) assert.equal(refusalOf(await attack(forger))?.by, 'remote')
      const bans = lines.filter(line => line.event === 'ban')
      assert.deepEqual(bans.map(line => [line.ip, line.banMs]), [['127.0.0.1', 60_000]])

      const stock = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
      outsiders.push(stock)
      const [refusal] = await Promise.all([
        waitFor(victim.gate, 'refused', refused => refused.code === 'banned'),
        stock.dial(addrOf(victim)).catch(() => undefined)
      ])
      assert.deepEqual([refusal.stage, refusal.direction, refusal.peerId], ['handshake', 'inbound', undefined], 'turned away before Noise named the peer')

      const member = await fed.startNode('val-2')
      const [admitted] = await Promise.all([waitFor(victim.gate, 'admitted', peer => peer.peerId === member.peerId), member.dial(addrOf(victim))])
      assert.equal(admitted.memberId, 'val-2', 'a member from the banned address is admitted')
      assert.deepEqual(calls, [])
    })
  })
})
