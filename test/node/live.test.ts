import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import writeFileAtomic from 'write-file-atomic'
import {
  addMember, createFederationNode, DEFAULT_ACCEPTS, generateNodeKey, removeMember, RENEW_PROTOCOL, revoke, setPolicy,
  type Credential, type FederationNode, type Disconnect, type CredentialRenewal as Renewal
} from '../../node/index.ts'
import { decodeVerdict } from '../../node/net/hello.ts'
import {
  addrOf, captureLog, CONSENSUS, createFederation, echo, eventually, LISTEN_LOCALHOST, metricValue, recordingEcho, waitFor, WAIT_MS,
  type Federation
} from './fixture.ts'


/** A credential TTL under the 7-day cap; tests shift notBefore back so it runs out seconds from now. */
const TTL_MS = 60_000
/** How much later than the renewed node's first credential the control node's credential runs out. */
const CONTROL_LAG_MS = 500
const HOUR_MS = 3_600_000

interface Tracked {
  readonly node: FederationNode
  readonly disconnected: Disconnect[]
  readonly renewed: Renewal[]
}

function track (node: FederationNode): Tracked {
  const tracked: Tracked = { node, disconnected: [], renewed: [] }
  node.gate.addEventListener('disconnected', evt => { tracked.disconnected.push(evt.detail) })
  node.gate.addEventListener('credential-renewed', evt => { tracked.renewed.push(evt.detail) })
  return tracked
}

/** The live connections from `node` to `peerId`. */
function connectionsTo (node: FederationNode, peerId: string): Connection[] {
  return node.libp2p.getConnections().filter(c => c.remotePeer.toString() === peerId && c.status === 'open')
}

function onlyConnection (node: FederationNode, peerId: string): Connection {
  const connections = connectionsTo(node, peerId)
  const [connection] = connections
  assert.ok(connection !== undefined && connections.length === 1, `one connection from ${node.peerId} to ${peerId}, found ${connections.length}`)
  return connection
}

function codesFor (tracked: Tracked, peerId: string): string[] {
  return tracked.disconnected.filter(d => d.peerId === peerId).map(d => d.code)
}

describe('live enforcement: a revoked member is cut from every node', () => {
  const validators = ['val-a', 'val-b', 'val-c']
  let fed: Federation
  let mesh: Tracked[]
  let revoked: Tracked
  let revokedLog: Array<Record<string, unknown>>
  /** Connection ids between the validators, before the revocation. */
  let meshConnections: Map<string, string>

  before(async () => {
    fed = await createFederation({
      members: [...validators.map(id => ({ id, roles: ['validator'] })), { id: 'rel-x', roles: ['relayer'] }]
    })
    mesh = []
    for (const id of validators) mesh.push(track(await fed.startNode(id)))
    const captured = captureLog()
    revokedLog = captured.lines
    revoked = track(await fed.startNode('rel-x', { log: captured.log }))
    const [a, b, c] = mesh.map(t => t.node)
    if (a === undefined || b === undefined || c === undefined) throw new Error('three validators expected')
    await a.dial(addrOf(b))
    await a.dial(addrOf(c))
    await b.dial(addrOf(c))
    for (const { node } of mesh) await revoked.node.dial(addrOf(node))
    await eventually(() => [...mesh, revoked].every(t => t.node.peers().length === 3), 'every node to admit the other three')

    meshConnections = new Map()
    for (const { node } of mesh) {
      for (const { node: other } of mesh) {
        if (other !== node) meshConnections.set(`${node.peerId}>${other.peerId}`, onlyConnection(node, other.peerId).id)
      }
    }
    await fed.publishEpoch(r => revoke(r, { member: 'rel-x' }))
    await eventually(() => mesh.every(t => codesFor(t, revoked.node.peerId).length === 1) && revoked.disconnected.length === 3,
      'the revoked relayer to be disconnected from every validator')
  })
  after(async () => { await fed.close() })

  it('every validator that applied the epoch closed its connection with reason revoked', () => {
    for (const t of mesh) {
      assert.equal(t.node.roster.epoch, 2)
      assert.deepEqual(codesFor(t, revoked.node.peerId), ['revoked'])
      assert.deepEqual(connectionsTo(t.node, revoked.node.peerId), [])
      assert.ok(!t.node.peers().some(p => p.peerId === revoked.node.peerId))
      const live = t.node.refusals().filter(r => r.stage === 'live' && r.peerId === revoked.node.peerId)
      assert.deepEqual(live.map(r => [r.code, r.by, r.memberId]), [['revoked', 'local', 'rel-x']])
    }
  })

  it('each validator timed the revocation, from accepting the epoch to the connection closing', async () => {
    for (const t of mesh) {
      assert.equal(await metricValue(t.node, 'fedgate_revocation_disconnect_seconds', { le: '+Inf' }), 1)
      assert.equal(await metricValue(t.node, 'fedgate_disconnects_total', { reason: 'revoked' }), 1)
    }
  })

  it('the revoked node learned the reason from each validator over the bye protocol', () => {
    assert.deepEqual(revoked.disconnected.map(d => d.code), ['revoked', 'revoked', 'revoked'])
    assert.deepEqual(revoked.disconnected.map(d => d.peerId).sort(), mesh.map(t => t.node.peerId).sort())
    const told = revoked.node.refusals().filter(r => r.stage === 'live')
    assert.deepEqual(told.map(r => [r.code, r.by]), [['revoked', 'remote'], ['revoked', 'remote'], ['revoked', 'remote']])
  })

  it('connections between the remaining members stay up and keep working', async () => {
    for (const { node } of mesh) {
      assert.equal(node.peers().length, 2)
      for (const { node: other } of mesh) {
        if (other === node) continue
        assert.equal(onlyConnection(node, other.peerId).id, meshConnections.get(`${node.peerId}>${other.peerId}`))
      }
    }
    for (const t of mesh) assert.ok(t.disconnected.every(d => d.peerId === revoked.node.peerId))
    const [a, b] = mesh.map(t => t.node)
    if (a === undefined || b === undefined) throw new Error('validators expected')
    const { handler, calls } = recordingEcho()
    await a.handle(CONSENSUS, handler)
    const message = new TextEncoder().encode('block 2')
    assert.deepEqual(await echo(await onlyConnection(b, a.peerId).newStream(CONSENSUS), message), message)
    assert.deepEqual(calls.map(c => c.peer.memberId), ['val-b'])
  })

  it('the revoked node logs that its own credential no longer verifies, and keeps running', () => {
    assert.equal(revoked.node.roster.epoch, 2)
    const own = revokedLog.filter(line => line.event === 'own-credential-refused')
    assert.deepEqual(own.map(line => [line.reason, line.epoch]), [['revoked', 2]])
    assert.equal(revoked.node.libp2p.status, 'started')
    assert.deepEqual(revoked.node.peers(), [])
  })
})

describe('live enforcement: removed members and withdrawn roles', () => {
  let fed: Federation
  let hub: Tracked
  let peers: Record<'removed' | 'withdrawn' | 'notAccepted' | 'kept', Tracked>
  let keptConnection: string

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-hub', roles: ['validator'] },
        { id: 'full-rm', roles: ['full-node'] },
        { id: 'full-wd', roles: ['full-node', 'light-client'] },
        { id: 'rel-na', roles: ['relayer'] },
        { id: 'val-k', roles: ['validator'] }
      ]
    })
    hub = track(await fed.startNode('val-hub'))
    peers = {
      removed: track(await fed.startNode('full-rm')),
      withdrawn: track(await fed.startNode('full-wd', { credential: await fed.issue('full-wd', { roles: ['full-node'] }) })),
      notAccepted: track(await fed.startNode('rel-na')),
      kept: track(await fed.startNode('val-k'))
    }
    for (const t of Object.values(peers)) await t.node.dial(addrOf(hub.node))
    await eventually(() => hub.node.peers().length === 4, 'the hub to admit four peers')
    keptConnection = onlyConnection(hub.node, peers.kept.node.peerId).id

    await fed.publishEpoch(r => {
      let next = removeMember(r, 'full-rm')
      next = removeMember(next, 'full-wd')
      next = addMember(next, fed.memberEntry({ id: 'full-wd', roles: ['light-client'] }))
      return setPolicy(next, 'accepts', { ...DEFAULT_ACCEPTS, validator: ['validator', 'full-node'] })
    })
    const gone = [peers.removed, peers.withdrawn, peers.notAccepted]
    await eventually(() => gone.every(t => t.disconnected.length === 1) && hub.disconnected.length === 3,
      'three peers to be disconnected from the hub')
  })
  after(async () => { await fed.close() })

  const cases = [
    { peer: 'removed', code: 'unknown-member', what: 'a member removed from the roster' },
    { peer: 'withdrawn', code: 'role-not-held', what: 'a member whose credential role was withdrawn' },
    { peer: 'notAccepted', code: 'role-not-accepted', what: 'a member whose role the hub no longer accepts' }
  ] as const

  for (const { peer, code, what } of cases) {
    it(`${what} is closed with ${code} on both sides`, () => {
      const t = peers[peer]
      assert.deepEqual(codesFor(hub, t.node.peerId), [code])
      assert.deepEqual(t.disconnected.map(d => [d.peerId, d.code]), [[hub.node.peerId, code]])
      assert.deepEqual(connectionsTo(hub.node, t.node.peerId), [])
      const live = hub.node.refusals().filter(r => r.stage === 'live' && r.peerId === t.node.peerId)
      assert.deepEqual(live.map(r => r.code), [code])
    })
  }

  it('a member the new epoch still accepts keeps its connection', () => {
    assert.equal(onlyConnection(hub.node, peers.kept.node.peerId).id, keptConnection)
    assert.deepEqual(hub.node.peers().map(p => p.memberId), ['val-k'])
    assert.deepEqual(peers.kept.disconnected, [])
  })
})

describe('live enforcement: credential expiry and renewal', () => {
  let fed: Federation
  let hub: Tracked

  before(async () => {
    // No clock skew allowance, so a credential that runs out in seconds is refused as soon as it does.
    fed = await createFederation({
      members: [{ id: 'val-hub', roles: ['validator'] }, { id: 'val-e', roles: ['validator'] }, { id: 'val-f', roles: ['validator'] }],
      policy: { clockSkew: '0s' }
    })
    hub = track(await fed.startNode('val-hub'))
    await hub.node.handle(CONSENSUS, recordingEcho().handler)
  })
  after(async () => { await fed.close() })

  it('a connection is closed with expired when the peer credential runs out', async () => {
    const expiring = await fed.issue('val-e', { notBefore: Date.now() - TTL_MS + 3_000, ttlMs: TTL_MS })
    const peer = track(await fed.startNode('val-e', { credential: expiring }))
    await peer.node.dial(addrOf(hub.node))
    await eventually(() => hub.node.peers().some(p => p.peerId === peer.node.peerId), 'the hub to admit the peer')

    await eventually(() => codesFor(hub, peer.node.peerId).length === 1 && peer.disconnected.length === 1,
      'the expired connection to close', TTL_MS)
    assert.deepEqual(codesFor(hub, peer.node.peerId), ['expired'])
    assert.deepEqual(peer.disconnected.map(d => [d.peerId, d.code]), [[hub.node.peerId, 'expired']])
    const closedAt = hub.disconnected.find(d => d.peerId === peer.node.peerId)?.at ?? 0
    assert.ok(closedAt >= expiring.notAfterMs, 'not closed before the credential ran out')
    assert.deepEqual(connectionsTo(hub.node, peer.node.peerId), [])
    assert.equal(await metricValue(hub.node, 'fedgate_disconnects_total', { reason: 'expired' }), 1)
    assert.equal(await metricValue(hub.node, 'fedgate_revocation_disconnect_seconds', { le: '+Inf' }), 0, 'an expiry is not a revocation')
    await fed.stop('val-e')
  })

  describe('a node whose credential file is rewritten', () => {
    let node: Tracked
    let log: Array<Record<string, unknown>>
    let first: Credential
    let renewed: Credential
    let connectionId: string
    /** A node of the same member whose credential runs out just after the first one: the control that expiry works. */
    let control: Tracked

    before(async () => {
      const home = join(fed.dir, 'val-f-own')
      await mkdir(home, { recursive: true })
      const rosterFile = join(home, 'roster.json')
      const credentialFile = join(home, 'credential.json')
      first = await fed.issue('val-f', { notBefore: Date.now() - TTL_MS + 4_000, ttlMs: TTL_MS })
      await writeFileAtomic(rosterFile, fed.roster.encode())
      await writeFileAtomic(credentialFile, first.encode())
      const captured = captureLog()
      log = captured.lines
      node = track(await createFederationNode({
        key: await fed.nodeKey('val-f'),
        credential: credentialFile,
        roster: { dataDir: join(home, 'data'), rosterFile },
        listen: [LISTEN_LOCALHOST],
        bans: false,
        log: captured.log
      }))
      await node.node.dial(addrOf(hub.node))
      await eventually(() => hub.node.peers().some(p => p.peerId === node.node.peerId), 'the hub to admit the node')
      connectionId = onlyConnection(hub.node, node.node.peerId).id

      renewed = await fed.issue('val-f', { ttlMs: HOUR_MS })
      await writeFileAtomic(credentialFile, renewed.encode())
      await eventually(() => node.renewed.length === 1 && hub.renewed.some(r => r.peerId === node.node.peerId),
        'the renewal to reach both sides')
      const controlCredential = await fed.issue('val-f-control', { member: 'val-f', notBefore: first.notBeforeMs, ttlMs: TTL_MS + CONTROL_LAG_MS })
      control = track(await fed.startNode('val-f-control', { member: 'val-f', credential: controlCredential }))
      await control.node.dial(addrOf(hub.node))
      await eventually(() => hub.node.peers().some(p => p.peerId === control.node.peerId), 'the hub to admit the control node')

      const stranger = await generateNodeKey()
      await writeFileAtomic(credentialFile, (await fed.issue('val-f', { peer: stranger.peerId, ttlMs: HOUR_MS })).encode())
      await eventually(() => log.some(line => line.event === 'credential-renewal-refused'), 'the foreign credential to be refused')
    })
    after(async () => {
      await node.node.stop()
      await fed.stop('val-f-control')
    })

    it('applies the renewed credential locally and pushes it to the connected peer', () => {
      assert.deepEqual(node.renewed, [{ peerId: node.node.peerId, memberId: 'val-f', roles: ['validator'], notAfter: renewed.notAfterMs, local: true }])
      assert.deepEqual(hub.renewed.filter(r => r.peerId === node.node.peerId),
        [{ peerId: node.node.peerId, memberId: 'val-f', roles: ['validator'], notAfter: renewed.notAfterMs, local: false }])
      assert.equal(node.node.credential.fingerprint, renewed.fingerprint)
      assert.equal(hub.node.peers().find(p => p.peerId === node.node.peerId)?.credential.fingerprint, renewed.fingerprint)
    })

    it('refuses a credential file naming another node key and keeps the current credential', () => {
      const refused = log.filter(line => line.event === 'credential-renewal-refused')
      assert.ok(refused.length > 0)
      assert.ok(refused.every(line => line.reason === 'peer-mismatch'))
      assert.equal(node.node.credential.fingerprint, renewed.fingerprint)
      assert.equal(node.renewed.length, 1)
    })

    it('the connection outlives the old credential', async () => {
      // The control's credential ran out CONTROL_LAG_MS after the old one: once the hub has cut it,
      // the hub has long passed the moment it would have cut a connection still on the old credential.
      await eventually(() => codesFor(hub, control.node.peerId).length > 0, 'the hub to cut the control node', TTL_MS)
      assert.deepEqual(codesFor(hub, control.node.peerId), ['expired'])
      assert.ok(Date.now() >= first.notAfterMs, 'the old credential has run out')
      assert.deepEqual(hub.node.refusals().filter(r => r.peerId === node.node.peerId), [])
      assert.equal(onlyConnection(hub.node, node.node.peerId).id, connectionId)
      assert.deepEqual(codesFor(hub, node.node.peerId), [])
      assert.deepEqual(node.disconnected, [])
      const message = new TextEncoder().encode('still here')
      assert.deepEqual(await echo(await onlyConnection(node.node, hub.node.peerId).newStream(CONSENSUS), message), message)
    })

    it('a peer refuses a renewal pushed for another node key, and closes the connection', async () => {
      const stranger = await generateNodeKey()
      const foreign = await fed.issue('val-f', { peer: stranger.peerId, ttlMs: HOUR_MS })
      const stream = await onlyConnection(node.node, hub.node.peerId).newStream(RENEW_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(new TextEncoder().encode(foreign.encode()), { signal: AbortSignal.timeout(WAIT_MS) })
      const dropped = waitFor(hub.node.gate, 'disconnected', left => left.peerId === node.node.peerId)
      const verdict = decodeVerdict((await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })).subarray())
      assert.equal(verdict, 'peer-mismatch')
      // A refused renewal closes the connection: the peer keeps nothing it was not admitted with.
      assert.equal((await dropped).code, 'peer-mismatch')
      assert.equal(hub.renewed.filter(r => r.peerId === node.node.peerId).length, 1)
    })
  })
})
