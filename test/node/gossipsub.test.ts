import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { allowProtocol, revoke, PROTOCOL_PRESETS, type FederationNode, type Membership, type PresetName } from '../../node/index.ts'
import { addrOf, captureLog, createFederation, eventually, waitFor, type Federation } from './fixture.ts'
import { pubsubOf, TOPIC, validatorStack } from './services.ts'

const VALIDATORS = ['val-1', 'val-2', 'val-3']
const MESHSUB = ['/meshsub/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0']
const EVERY_ROLE = ['validator', 'relayer', 'full-node', 'light-client']
/** identify and ping for everyone, gossipsub for validators and full nodes only. */
const PROTOCOLS: Readonly<Record<string, readonly string[]>> = {
  '/ipfs/id/1.0.0': EVERY_ROLE,
  '/ipfs/id/push/1.0.0': EVERY_ROLE,
  '/ipfs/ping/1.0.0': EVERY_ROLE,
  ...Object.fromEntries(MESHSUB.map(p => [p, ['validator', 'full-node']]))
}

/** Policy entries for presets, as `fedgate roster allow --preset NAME --roles R` writes them. */
function presets (entries: Partial<Record<PresetName, readonly string[]>>): Record<string, readonly string[]> {
  return Object.fromEntries(Object.entries(entries).flatMap(([name, roles]) => PROTOCOL_PRESETS[name as PresetName].protocols.map(p => [p, roles ?? []])))
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Collects the topic's messages a node receives, by text. */
function inbox (node: FederationNode): string[] {
  const received: string[] = []
  pubsubOf(node).addEventListener('message', evt => {
    if (evt.detail.topic === TOPIC) received.push(new TextDecoder().decode(evt.detail.data))
  })
  return received
}

async function connectAll (nodes: readonly FederationNode[]): Promise<void> {
  await Promise.all(nodes.flatMap((from, i) => nodes.slice(i + 1).map(async to => from.dial(addrOf(to)))))
  await eventually(() => nodes.every(node => node.peers().length === nodes.length - 1), 'every node to admit every other')
}

async function meshOf (node: FederationNode, size: number): Promise<void> {
  await eventually(() => pubsubOf(node).getMeshPeers(TOPIC).length === size, `a gossipsub mesh of ${size} at ${node.peerId}`)
}

describe('gossipsub on fedgate', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        ...VALIDATORS.map(id => ({ id, roles: ['validator'], org: `org-${id}` })),
        { id: 'full-1', roles: ['full-node'] },
        { id: 'light-1', roles: ['light-client'] }
      ],
      protocols: PROTOCOLS
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  it('validators form a mesh; a topic validator knows each forwarder as a member with roles, org and expiry', async () => {
    const nodes = await Promise.all(VALIDATORS.map(async id => fed.startNode(id, { libp2p: validatorStack() })))
    const [v1, v2, v3] = nodes
    assert.ok(v1 !== undefined && v2 !== undefined && v3 !== undefined)
    const seen: Array<{ forwarder: Membership | undefined, author: string | undefined }> = []
    pubsubOf(v1).topicValidators.set(TOPIC, (forwarder, message) => {
      const membership = v1.gate.membershipOf(forwarder)
      seen.push({ forwarder: membership, author: message.type === 'signed' ? v1.gate.memberIdOf(message.from) : undefined })
      return membership?.roles.includes('validator') === true ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
    })
    const received = inbox(v1)
    for (const node of nodes) pubsubOf(node).subscribe(TOPIC)
    await connectAll(nodes)
    await Promise.all(nodes.map(async node => meshOf(node, 2)))

    const result = await pubsubOf(v2).publish(TOPIC, text('block 1 from val-2'))
    assert.ok(result.recipients.length >= 1)
    await eventually(() => received.includes('block 1 from val-2'), 'val-1 to receive val-2\'s block')
    // The block may reach val-1 through val-2 itself or through val-3: either way a validator forwarded it.
    const fromV2 = seen.find(s => s.author === 'val-2')
    assert.ok(fromV2 !== undefined, 'the topic validator saw val-2\'s block')
    const forwarder = fromV2.forwarder
    assert.ok(forwarder !== undefined && ['val-2', 'val-3'].includes(forwarder.memberId), `forwarded by ${forwarder?.memberId}`)
    assert.equal(forwarder.org, `org-${forwarder.memberId}`)
    assert.deepEqual(forwarder.roles, ['validator'])
    assert.equal(forwarder.peerId, fed.node(forwarder.memberId).peerId)
    assert.equal(forwarder.notAfter, v1.gate.peerById(forwarder.peerId)?.credential.notAfterMs)
    assert.equal(forwarder.credential, v1.gate.peerById(forwarder.peerId)?.credential.fingerprint)
    assert.ok(forwarder.notAfter > Date.now())
    // This node itself is no admitted peer.
    assert.equal(v1.gate.membershipOf(v1.peerId), undefined)
  })

  it('a light client without the gossipsub role never receives topic messages', async () => {
    const validator = await fed.startNode('val-1', { libp2p: validatorStack() })
    const full = await fed.startNode('full-1', { libp2p: validatorStack() })
    const light = await fed.startNode('light-1', { libp2p: validatorStack() })
    const lightInbox = inbox(light)
    const fullInbox = inbox(full)
    for (const node of [validator, full, light]) pubsubOf(node).subscribe(TOPIC)
    const resets = waitFor(full.gate, 'stream-reset', r => r.protocol?.startsWith('/meshsub/') === true && r.memberId === 'light-1')
    // The light client's own node hears why its gossipsub stream died.
    const told = waitFor(light.gate, 'stream-reset', r => r.by === 'remote' && r.protocol?.startsWith('/meshsub/') === true && r.memberId === 'full-1')
    await full.dial(addrOf(validator))
    await light.dial(addrOf(full))
    await eventually(() => full.peers().length === 2, 'the full node to admit the validator and the light client')
    await meshOf(full, 1)
    await resets
    assert.equal((await told).code, 'protocol-not-allowed')
    await pubsubOf(validator).publish(TOPIC, text('block 2'))
    await eventually(() => fullInbox.includes('block 2'), 'the full node to receive block 2')
    // The full node got the block and holds a connection to the light client, which got nothing.
    assert.deepEqual(lightInbox, [])
    assert.ok(!pubsubOf(full).getMeshPeers(TOPIC).includes(light.peerId))
    assert.ok(!pubsubOf(full).getSubscribers(TOPIC).some(p => p.toString() === light.peerId))
    assert.ok(full.gate.peerById(light.peerId) !== undefined)
  })

  it('a revoked validator leaves the mesh and its blocks stop arriving', async () => {
    const nodes = await Promise.all(VALIDATORS.map(async id => fed.startNode(id, { libp2p: validatorStack() })))
    const [v1, v2, v3] = nodes
    assert.ok(v1 !== undefined && v2 !== undefined && v3 !== undefined)
    const received = inbox(v1)
    for (const node of nodes) pubsubOf(node).subscribe(TOPIC)
    await connectAll(nodes)
    await Promise.all(nodes.map(async node => meshOf(node, 2)))

    await fed.publishEpoch(r => revoke(r, { member: 'val-3' }), { nodes: ['val-1', 'val-2'] })
    // The bye that tells val-3 why takes a round trip; once both validators closed its connections, it is out.
    await eventually(() => [v1, v2].every(node => node.libp2p.getConnections(v3.libp2p.peerId).length === 0), 'val-1 and val-2 to close val-3\'s connections')
    await eventually(() => !pubsubOf(v1).getPeers().some(p => p.toString() === v3.peerId), 'val-1\'s gossipsub to drop val-3')
    await meshOf(v1, 1)
    assert.equal(v1.gate.membershipOf(v3.peerId), undefined)
    assert.equal(v1.gate.memberIdOf(v3.peerId), undefined)
    // val-3 still runs and publishes; only val-2's block reaches val-1.
    await pubsubOf(v3).publish(TOPIC, text('block from revoked val-3')).catch(() => undefined)
    await pubsubOf(v2).publish(TOPIC, text('block from val-2'))
    await eventually(() => received.includes('block from val-2'), 'val-1 to receive val-2\'s block')
    assert.ok(!received.includes('block from revoked val-3'))
  })
})

describe('gossipsub on fedgate: which protocols the roster must allow', () => {
  let fed: Federation

  afterEach(async () => { await fed.close() })

  it('gossipsub allowed without identify: the node warns at start, and again on an epoch that brings it back and takes it away', async () => {
    fed = await createFederation({ members: VALIDATORS.map(id => ({ id, roles: ['validator'] })), protocols: presets({ gossipsub: ['validator'], ping: ['validator'] }) })
    const { log, lines } = captureLog()
    const node = await fed.startNode('val-1', { libp2p: validatorStack(), log })
    const atStart = lines.filter(l => l.event === 'policy-warning' && l.reason === 'dependency-denied')
    for (const line of atStart) {
      assert.equal(line.needs, '/ipfs/id/1.0.0')
      assert.equal(line.trigger, 'start')
      assert.ok(String(line.msg).includes('--preset identify --roles validator'))
    }
    assert.deepEqual(atStart.map(l => l.protocol).sort(), ['/floodsub/1.0.0', '/meshsub/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0'])
    // identify itself is registered and allowed to no one: unreachable.
    assert.ok(lines.some(l => l.event === 'policy-warning' && l.reason === 'protocol-unreachable' && l.protocol === '/ipfs/id/1.0.0'))

    const before = lines.length
    await fed.publishEpoch(r => PROTOCOL_PRESETS.identify.protocols.reduce((next, p) => allowProtocol(next, p, ['validator']), r))
    await eventually(() => lines.slice(before).some(l => l.event === 'roster-accepted'), 'the epoch to be logged')
    const warned = waitFor(node.gate, 'policy-warning', w => w.kind === 'dependency-denied' && w.epoch === 3)
    await fed.publishEpoch(r => allowProtocol(r, '/ipfs/id/*', []))
    const warning = await warned
    assert.equal(warning.kind === 'dependency-denied' ? warning.needs : undefined, '/ipfs/id/1.0.0')
    // Epoch 2 allowed identify: it raised no dependency warning.
    assert.ok(!lines.some(l => l.event === 'policy-warning' && l.epoch === 2 && l.reason === 'dependency-denied'))
  })

  it('a family entry (/meshsub/*) lets gossipsub use its newest version; an exact older id resets it', async () => {
    fed = await createFederation({ members: VALIDATORS.map(id => ({ id, roles: ['validator'] })), protocols: presets({ gossipsub: ['validator'], identify: ['validator'], ping: ['validator'] }) })
    const [v1, v2] = await Promise.all(VALIDATORS.slice(0, 2).map(async id => fed.startNode(id, { libp2p: validatorStack() })))
    assert.ok(v1 !== undefined && v2 !== undefined)
    for (const node of [v1, v2]) pubsubOf(node).subscribe(TOPIC)
    await connectAll([v1, v2])
    await meshOf(v1, 1)
    const protocols = v1.libp2p.getConnections(v2.libp2p.peerId).flatMap(c => c.streams.map(s => s.protocol))
    assert.ok(protocols.includes('/meshsub/1.2.0'), `streams: ${protocols.join(', ')}`)

    // The roster lists one exact older version only: the guard resets gossipsub's 1.2.0 streams.
    const reset = waitFor(v1.gate, 'refused', r => r.stage === 'live' && r.protocol === '/meshsub/1.2.0' && r.code === 'protocol-not-allowed')
    await fed.publishEpoch(r => allowProtocol(allowProtocol(r, '/meshsub/*', []), '/meshsub/1.1.0', ['validator']))
    await reset
  })

  it('an epoch that gives gossipsub back: the peer rejoins the mesh on its existing connection', async () => {
    fed = await createFederation({ members: VALIDATORS.map(id => ({ id, roles: ['validator'] })), protocols: presets({ gossipsub: ['validator'], identify: ['validator'], ping: ['validator'] }) })
    const [v1, v2] = await Promise.all(VALIDATORS.slice(0, 2).map(async id => fed.startNode(id, { libp2p: validatorStack() })))
    assert.ok(v1 !== undefined && v2 !== undefined)
    const received = inbox(v1)
    for (const node of [v1, v2]) pubsubOf(node).subscribe(TOPIC)
    await connectAll([v1, v2])
    await meshOf(v1, 1)
    const connections = v1.libp2p.getConnections(v2.libp2p.peerId).map(c => c.id)

    // Epoch 2 takes gossipsub away: each side resets the other's gossipsub streams.
    const lost = [v1, v2].map(node => waitFor(node.gate, 'refused', r => r.stage === 'live' && r.protocol?.startsWith('/meshsub/') === true))
    await fed.publishEpoch(r => allowProtocol(allowProtocol(r, '/meshsub/*', []), '/floodsub/*', []))
    await Promise.all(lost)

    const widened = [v1, v2].map(node => waitFor(node.gate, 'protocols-widened'))
    const change = waitFor(v1.gate, 'roster', r => r.epoch === 3)
    await fed.publishEpoch(r => allowProtocol(allowProtocol(r, '/meshsub/*', ['validator']), '/floodsub/*', ['validator']))
    // The roster event carries the policy diff.
    assert.deepEqual((await change).diff?.policy.map(p => [p.path, p.before, p.after]), [
      ['policy.protocols["/meshsub/*"]', [], ['validator']],
      ['policy.protocols["/floodsub/*"]', [], ['validator']]
    ])
    const [event] = await Promise.all(widened)
    assert.equal(event?.peerId, v2.peerId)
    assert.equal(event?.memberId, 'val-2')
    assert.equal(event?.epoch, 3)
    assert.deepEqual(event?.protocols, ['/floodsub/1.0.0', '/meshsub/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0'])
    // gossipsub opens no stream by itself on a connection it already saw: only the rejoin brings val-2's blocks back.
    let sent = 0
    await eventually(async () => {
      await pubsubOf(v2).publish(TOPIC, text(`block after the epoch ${++sent}`)).catch(() => undefined)
      return received.some(r => r.startsWith('block after the epoch'))
    }, 'val-1 to receive a block val-2 published after epoch 3')
    // The same connection as before: no redial was needed.
    assert.deepEqual(v1.libp2p.getConnections(v2.libp2p.peerId).map(c => c.id), connections)
  })
})
