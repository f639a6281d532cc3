import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { addMember, refusalOf, revoke, SelfCredentialError } from '../../node/index.ts'
import {
  addrOf, BRIDGE, CONSENSUS, createFederation, echo, eventually, HEADERS, metricValue, recordingEcho, rejection,
  waitFor, type Federation
} from './fixture.ts'

const HOUR_MS = 3_600_000
const UNLISTED = '/chain/unlisted/1.0.0'
const VALIDATORS = ['val-1', 'val-2', 'val-3', 'val-4']

describe('authenticated node: use cases', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        ...VALIDATORS.map(id => ({ id, roles: ['validator'] })),
        { id: 'rel-1', roles: ['relayer'] },
        { id: 'full-1', roles: ['full-node'] },
        { id: 'full-2', roles: ['full-node'] },
        { id: 'light-1', roles: ['light-client'] }
      ]
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('four validators form a full mesh and speak consensus to each other', async () => {
    const nodes = await Promise.all(VALIDATORS.map(async id => fed.startNode(id)))
    const echoes = nodes.map(() => recordingEcho())
    await Promise.all(nodes.map(async (node, i) => node.handle(CONSENSUS, async (...args) => echoes[i]?.handler(...args))))

    await Promise.all(nodes.flatMap(from => nodes.filter(to => to !== from).map(async to => from.dial(addrOf(to)))))
    await eventually(() => nodes.every(node => node.peers().length === 3), 'every validator to admit the other three')

    for (const node of nodes) {
      const others = nodes.filter(other => other !== node)
      assert.deepEqual(node.peers().map(p => p.peerId).sort(), others.map(o => o.peerId).sort())
      for (const peer of node.peers()) {
        assert.deepEqual(peer.roles, ['validator'])
        assert.equal(peer.memberId, VALIDATORS[nodes.findIndex(n => n.peerId === peer.peerId)])
      }
    }
    for (const [i, from] of nodes.entries()) {
      for (const [j, to] of nodes.entries()) {
        if (i === j) continue
        const message = new TextEncoder().encode(`vote ${i}->${j}`)
        assert.deepEqual(await echo(await from.dialProtocol(addrOf(to), CONSENSUS), message), message)
      }
    }
    for (const [i, record] of echoes.entries()) {
      assert.equal(record.calls.length, 3)
      assert.ok(record.calls.every(call => call.protocol === CONSENSUS && call.peer.memberId !== VALIDATORS[i]))
    }
    for (const node of nodes) assert.deepEqual(node.refusals(), [])
  })

  it('a relayer reaches the bridge on a validator but is refused on consensus', async () => {
    const validator = await fed.startNode('val-1')
    const relayer = await fed.startNode('rel-1')
    const bridge = recordingEcho()
    const consensus = recordingEcho()
    await validator.handle(BRIDGE, bridge.handler)
    await validator.handle(CONSENSUS, consensus.handler)

    const message = new TextEncoder().encode('transfer 42')
    assert.deepEqual(await echo(await relayer.dialProtocol(addrOf(validator), BRIDGE), message), message)
    assert.equal(bridge.calls.length, 1)
    assert.deepEqual(bridge.calls[0]?.peer.roles, ['relayer'])
    assert.equal(bridge.calls[0]?.peer.memberId, 'rel-1')

    const [refusal] = await Promise.all([
      waitFor(validator.gate, 'stream-reset'),
      relayer.dialProtocol(addrOf(validator), CONSENSUS).then(async stream => rejection(echo(stream, message), 'reading consensus as a relayer'))
    ])
    assert.equal(consensus.calls.length, 0)
    assert.equal(refusal.code, 'protocol-not-allowed')
    assert.equal(refusal.stage, 'stream')
    assert.equal(refusal.protocol, CONSENSUS)
    assert.equal(refusal.memberId, 'rel-1')
    assert.deepEqual(validator.refusals().map(r => [r.code, r.stage]), [['protocol-not-allowed', 'stream']])
    assert.equal(await metricValue(validator, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed' }), 1)
    assert.equal(await metricValue(validator, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: CONSENSUS }), 1)
    assert.equal(validator.peers().length, 1, 'a refused stream leaves the connection up')
  })

  it('denies a protocol the roster does not list, even to a validator', async () => {
    const listener = await fed.startNode('val-1')
    const dialer = await fed.startNode('val-2')
    const unlisted = recordingEcho()
    await listener.handle(UNLISTED, unlisted.handler)

    const [refusal] = await Promise.all([
      waitFor(listener.gate, 'stream-reset'),
      dialer.dialProtocol(addrOf(listener), UNLISTED).then(async stream => rejection(echo(stream, new Uint8Array([1])), 'reading an unlisted protocol'))
    ])
    assert.equal(refusal.code, 'protocol-not-allowed')
    assert.equal(refusal.protocol, UNLISTED)
    assert.equal(unlisted.calls.length, 0)
    assert.equal(await metricValue(listener, 'fedgate_stream_resets_total', { reason: 'protocol-not-allowed', protocol: UNLISTED }), 1)
  })

  it('a light client syncs headers from a full node, which sees its role', async () => {
    const full = await fed.startNode('full-1')
    const light = await fed.startNode('light-1')
    const headers = recordingEcho()
    await full.handle(HEADERS, headers.handler)

    const message = new TextEncoder().encode('headers from 100')
    const [peer, reply] = await Promise.all([
      waitFor(full.gate, 'admitted', admitted => admitted.peerId === light.peerId),
      light.dialProtocol(addrOf(full), HEADERS).then(async stream => echo(stream, message))
    ])
    assert.deepEqual(reply, message)
    assert.deepEqual(peer.roles, ['light-client'])
    assert.equal(headers.calls.length, 1)
    assert.deepEqual(headers.calls[0]?.peer.roles, ['light-client'])
    assert.equal(headers.calls[0]?.peer.memberId, 'light-1')
    assert.deepEqual(full.peers().map(p => [p.peerId, p.memberId, p.roles]), [[light.peerId, 'light-1', ['light-client']]])
    assert.deepEqual(light.peers().map(p => [p.peerId, p.roles]), [[full.peerId, ['full-node']]])
  })

  describe('the dialer verifies the listener too', () => {
    it('a light client refuses a full node whose credential its roster revokes', async () => {
      const full = await fed.startNode('full-1')
      const light = await fed.startNode('light-1')
      const headers = recordingEcho()
      await full.handle(HEADERS, headers.handler)
      await fed.publishEpoch(r => revoke(r, { credential: full.credential.fingerprint }), { nodes: ['light-1'] })
      assert.equal(full.roster.revokedCredentials.size, 0, 'the full node does not know of the revocation')

      const [remote, err] = await Promise.all([
        waitFor(full.gate, 'refused'),
        rejection(light.dialProtocol(addrOf(full), HEADERS), 'dialling a revoked full node')
      ])
      assert.deepEqual(refusalOf(err), { code: 'revoked', by: 'local' })
      assert.deepEqual([remote.code, remote.by, remote.stage], ['revoked', 'remote', 'handshake'])
      assert.deepEqual(full.refusals().map(r => [r.code, r.by]), [['revoked', 'remote']])
      assert.equal(await metricValue(light, 'fedgate_handshakes_total', { result: 'refused', reason: 'revoked' }), 1)
      assert.equal(await metricValue(full, 'fedgate_handshakes_total', { result: 'refused-by-peer', reason: 'revoked' }), 1)
      assert.deepEqual(light.peers(), [])
      assert.deepEqual(full.peers(), [])
      assert.equal(headers.calls.length, 0)
    })

    it('a light client on an older epoch admits a node only the newer epoch lists, by catching up from that node', async () => {
      const light = await fed.startNode('light-1')
      const next = await fed.publishEpoch(r => addMember(r, fed.memberEntry({ id: 'full-new', roles: ['full-node'] })), { nodes: [] })
      const full = await fed.startNode('full-new')
      assert.equal(light.roster.member('full-new'), undefined)

      const [admitted] = await Promise.all([
        waitFor(light.gate, 'admitted', a => a.peerId === full.peerId),
        light.dial(addrOf(full))
      ])
      assert.equal(admitted.memberId, 'full-new')
      assert.equal(light.roster.fingerprint, next.fingerprint, 'the light client took the newer epoch from the node it dialled')
      assert.deepEqual(full.refusals(), [])
      assert.deepEqual(light.refusals(), [])
    })
  })

  describe('a node refuses to start when its own credential does not verify', () => {
    it('expired', async () => {
      const credential = await fed.issue('val-1', { notBefore: Date.now() - 3 * HOUR_MS, ttlMs: HOUR_MS })
      const err = await rejection(fed.startNode('val-1', { credential }))
      assert.ok(err instanceof SelfCredentialError)
      assert.equal(err.name, 'SelfCredentialError')
      assert.equal(err.code, 'expired')
    })

    it('revoked', async () => {
      const credential = await fed.issue('val-1')
      const roster = fed.nextEpoch(r => revoke(r, { credential: credential.fingerprint }))
      const err = await rejection(fed.startNode('val-1', { credential, roster }))
      assert.ok(err instanceof SelfCredentialError)
      assert.equal(err.code, 'revoked')
    })

    it('bound to another node key', async () => {
      const credential = await fed.issue('val-1', { peer: (await fed.nodeKey('someone-else')).peerId })
      const err = await rejection(fed.startNode('val-1', { credential }))
      assert.ok(err instanceof SelfCredentialError)
      assert.equal(err.code, 'peer-mismatch')
    })

    it('a fresh credential for the same key starts', async () => {
      const node = await fed.startNode('val-1')
      assert.equal(node.credential.memberId, 'val-1')
      assert.equal(fed.nodes.size, 1)
    })
  })
})
