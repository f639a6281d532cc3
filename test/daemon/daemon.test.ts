import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allowProtocol, revoke, type Roster } from '../../membership/index.ts'
import { ADMIN_ADDR_FILE, LISTEN_ADDRS_FILE, type HealthDocument, type PublishDocument, type StatusDocument } from '../../node/daemon/index.ts'
import { eventually, Federation, fedgate, FedgateProcess, HOUR_MS } from './federation.ts'

interface AuditEvent {
  readonly event: string
  readonly reason?: string
  readonly memberId?: string
}

/** The audit log's events so far (a line still being written is left out). */
async function auditEvents (file: string): Promise<AuditEvent[]> {
  const lines = (await readFile(file, 'utf8')).split('\n')
  return lines.slice(0, -1).map(l => JSON.parse(l) as AuditEvent)
}

/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m

interface RunningNode {
  readonly id: string
  readonly process: FedgateProcess
  readonly admin: string
  readonly listen: string[]
  readonly dataDir: string
}

/**
 * Three members run `fedgate node start` as real processes: val-a (listens, dials nobody), val-b
 * (config file, dials val-a), rel-c (flags only, dials both). Then the operator looks at them,
 * revokes rel-c, publishes an epoch, and stops val-b.
 */
describe('fedgate node start: a federation of three daemons', { timeout: 120_000 }, () => {
  let dir: string
  let fed: Federation
  const nodes = new Map<string, RunningNode>()
  const spawned: FedgateProcess[] = []
  const node = (id: string): RunningNode => {
    const n = nodes.get(id)
    assert.ok(n !== undefined, `node ${id} not running`)
    return n
  }
  const fetchStatus = async (id: string): Promise<StatusDocument> => await (await fetch(`http://${node(id).admin}/status`)).json() as StatusDocument
  const fetchMetrics = async (id: string): Promise<string> => await (await fetch(`http://${node(id).admin}/metrics`)).text()
  const peersOf = async (id: string): Promise<string[]> => (await fetchStatus(id)).peers.map(p => p.memberId).sort()

  const start = async (id: string, args: string[], dataDir: string): Promise<RunningNode> => {
    const process = new FedgateProcess(['node', 'start', ...args])
    spawned.push(process)
    await process.waitForStderr(STARTED)
    const running: RunningNode = {
      id,
      process,
      dataDir,
      admin: (await readFile(join(dataDir, ADMIN_ADDR_FILE), 'utf8')).trim(),
      listen: (await readFile(join(dataDir, LISTEN_ADDRS_FILE), 'utf8')).trim().split('\n')
    }
    nodes.set(id, running)
    return running
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-daemon-'))
    fed = await Federation.create(dir, [
      { id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS },
      { id: 'val-b', roles: ['validator'], ttlMs: 48 * HOUR_MS },
      // A 50-minute credential: under an hour left, so the startup summary warns about it.
      { id: 'rel-c', roles: ['relayer'], ttlMs: 50 * 60_000 }
    ])
    const a = await start('val-a', ['--config', await fed.writeConfig('val-a', fed.configOf('val-a'))], join(dir, 'data-val-a'))
    const b = await start('val-b', ['--config', await fed.writeConfig('val-b', fed.configOf('val-b', { dial: a.listen }))], join(dir, 'data-val-b'))
    const c = fed.member('rel-c')
    await start('rel-c', [
      '--key', c.keyFile, '--credential', c.credentialFile, '--roster', fed.rosterFile, '--data-dir', join(dir, 'data-rel-c'),
      '--listen', '/ip4/127.0.0.1/tcp/0', '--admin', '127.0.0.1:0', '--audit-log', join(dir, 'rel-c.audit.log'),
      '--dial', ...a.listen, ...b.listen
    ], join(dir, 'data-rel-c'))
  }, { timeout: 90_000 })

  after(async () => {
    await Promise.all(spawned.map(async p => p.stop('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
  })

  it('prints one startup summary on stderr; a credential expiring within the hour adds a warning', () => {
    const a = node('val-a').process.stderr
    assert.ok(a.startsWith('fedgate node started\n'))
    assert.ok(a.includes(fed.member('val-a').nodeKey.peerId))
    assert.match(a, /daemon-fed, roster epoch 1/)
    assert.ok(a.includes(`http://${node('val-a').admin}`))
    assert.ok(!a.includes('warning:'))
    assert.match(node('rel-c').process.stderr, /^warning: the credential expires in /m)
  })

  it('the reserved peers connect: every node lists the other two', async () => {
    assert.deepEqual(await eventually(async () => {
      const peers = await Promise.all(['val-a', 'val-b', 'rel-c'].map(peersOf))
      return peers.every(p => p.length === 2) ? peers : undefined
    }), [['rel-c', 'val-b'], ['rel-c', 'val-a'], ['val-a', 'val-b']])
    const status = await fetchStatus('val-a')
    assert.equal(status.peerId, fed.member('val-a').nodeKey.peerId)
    assert.equal(status.rosterEpoch, 1)
    for (const peer of status.peers) {
      assert.equal(peer.direction, 'inbound')
      assert.equal(peer.peerId, fed.member(peer.memberId).nodeKey.peerId)
      assert.deepEqual(peer.roles, fed.member(peer.memberId).roles)
      assert.ok(!Number.isNaN(Date.parse(peer.since)))
    }
  })

  it('/metrics and /healthz answer over HTTP', async () => {
    const text = await fetchMetrics('val-a')
    assert.match(text, /^fedgate_roster_epoch 1$/m)
    assert.match(text, /^fedgate_admitted_peers\{role="validator"\} 1$/m)
    assert.match(text, /^fedgate_admitted_peers\{role="relayer"\} 1$/m)
    assert.match(text, /^fedgate_handshakes_total\{direction="inbound",result="admitted",reason="ok"\} 2$/m)
    assert.match(text, /^libp2p_\w+/m)
    for (const id of ['val-a', 'val-b', 'rel-c']) {
      const res = await fetch(`http://${node(id).admin}/healthz`)
      assert.equal(res.status, 200)
    }
  })

  it('node status --json prints the /status document; the default output lists the peers', async () => {
    const run = await fedgate('node', 'status', '--admin', node('val-a').admin, '--json')
    assert.equal(run.code, 0)
    assert.equal(run.stderr, '')
    const doc = JSON.parse(run.stdout) as StatusDocument
    const direct = await fetchStatus('val-a')
    assert.equal(doc.peerId, direct.peerId)
    assert.equal(doc.rosterEpoch, direct.rosterEpoch)
    assert.deepEqual(doc.peers.map(p => p.peerId).sort(), direct.peers.map(p => p.peerId).sort())
    const human = await fedgate('node', 'status', '--admin', node('val-a').admin)
    assert.equal(human.code, 0)
    assert.ok(human.stdout.includes(direct.peerId))
    assert.match(human.stdout, /roster epoch 1/)
    assert.match(human.stdout, /^PEER ID +MEMBER +ROLES +DIRECTION +SINCE/m)
    for (const id of ['val-b', 'rel-c']) {
      assert.match(human.stdout, new RegExp(`^${fed.member(id).nodeKey.peerId} +${id} `, 'm'))
    }
  })

  it('revoking a member in the roster file drops it from every node, and its own /healthz turns 503', async () => {
    await fed.writeRoster(fed.nextEpoch(r => revoke(r, { member: 'rel-c' })))
    assert.deepEqual(await eventually(async () => {
      const peers = await Promise.all(['val-a', 'val-b'].map(peersOf))
      return peers.every(p => p.length === 1) ? peers : undefined
    }), [['val-b'], ['val-a']])
    const metrics = await fetchMetrics('val-a')
    assert.match(metrics, /^fedgate_roster_epoch 2$/m)
    assert.match(metrics, /^fedgate_disconnects_total\{reason="revoked"\} 1$/m)
    assert.match(metrics, /^fedgate_roster_updates_total\{result="accepted",reason="ok"\} 1$/m)
    assert.match(metrics, /^fedgate_admitted_peers\{role="relayer"\} 0$/m)
    const status = await fetchStatus('val-a')
    assert.ok(status.refusals.some(r => r.code === 'revoked' && r.stage === 'live' && r.by === 'local' && r.memberId === 'rel-c'))
    const health = await eventually(async () => {
      const res = await fetch(`http://${node('rel-c').admin}/healthz`)
      return res.status === 503 ? await res.json() as HealthDocument : undefined
    })
    assert.ok(!health.ok && health.reason === 'revoked')
    assert.equal(await node('rel-c').process.stop(), 0)
    nodes.delete('rel-c')
  })

  it('roster publish hands a signed epoch to a node; stale and under-signed epochs are refused with their code', async () => {
    const admin = node('val-a').admin
    const epoch3 = fed.nextEpoch(r => allowProtocol(r, '/chain/bridge/1.0.0', ['validator', 'relayer']))
    const publish = async (name: string, roster: Roster, ...flags: string[]): Promise<Awaited<ReturnType<typeof fedgate>>> => {
      await fed.writeRoster(roster, join(dir, name))
      return await fedgate('roster', 'publish', join(dir, name), '--admin', admin, ...flags)
    }
    const accepted = await publish('epoch-3.json', epoch3)
    assert.equal(accepted.code, 0, accepted.stderr)
    assert.match(accepted.stdout, /epoch 3 accepted/)
    assert.equal((await fetchStatus('val-a')).rosterEpoch, 3)
    // val-a announces the epoch to its peers, and val-b fetches it from val-a.
    await eventually(async () => (await fetchStatus('val-b')).rosterEpoch === 3 ? true : undefined)

    const stale = await publish('epoch-2.json', fed.roster, '--json')
    assert.equal(stale.code, 1)
    const staleDoc = JSON.parse(stale.stdout) as PublishDocument
    assert.ok(!staleDoc.accepted && staleDoc.code === 'roster-stale')
    assert.match(stale.stderr, /^error: .*roster-stale/)
    const underSigned = await publish('epoch-4.json', fed.nextEpoch(r => revoke(r, { member: 'val-b' }), 1, epoch3), '--json')
    assert.equal(underSigned.code, 1)
    const underSignedDoc = JSON.parse(underSigned.stdout) as PublishDocument
    assert.ok(!underSignedDoc.accepted && underSignedDoc.code === 'threshold-not-met')
    assert.equal((await fetchStatus('val-a')).rosterEpoch, 3)
    assert.match(await fetchMetrics('val-a'), /^fedgate_roster_updates_total\{result="refused",reason="threshold-not-met"\} 1$/m)
  })

  it('SIGHUP reloads the roster and credential files and keeps the node running', async () => {
    const b = node('val-b')
    const audit = join(dir, 'val-b.audit.log')
    assert.ok(!(await auditEvents(audit)).some(e => e.event === 'reload'))
    b.process.child.kill('SIGHUP')
    await eventually(async () => (await auditEvents(audit)).some(e => e.event === 'reload') ? true : undefined)
    assert.equal(b.process.child.exitCode, null)
    assert.equal((await fetch(`http://${b.admin}/healthz`)).status, 200)
  })

  it('SIGTERM stops a node with exit code 0 and its peer records the reason; the peer redials it once it is back', async () => {
    const a = node('val-a')
    assert.equal(await a.process.stop('SIGTERM'), 0)
    nodes.delete('val-a')
    await assert.rejects(readFile(join(a.dataDir, ADMIN_ADDR_FILE)), { code: 'ENOENT' })
    const status = await eventually(async () => {
      const s = await fetchStatus('val-b')
      return s.peers.length === 0 ? s : undefined
    })
    assert.ok(status.refusals.some(r => r.code === 'shutdown' && r.by === 'remote' && r.stage === 'live' && r.memberId === 'val-a'))
    // The audit log records the same disconnect with its reason (waits until the line is written).
    await eventually(async () => (await auditEvents(join(dir, 'val-b.audit.log')))
      .some(e => e.event === 'disconnect' && e.reason === 'shutdown' && e.memberId === 'val-a') ? true : undefined)

    // Back on the same address: val-b, which lists it as a reserved peer, dials it again.
    const sameAddress = a.listen.map(addr => addr.replace(/\/p2p\/[^/]+$/, ''))
    await start('val-a', ['--config', join(dir, 'val-a.json'), '--listen', ...sameAddress], a.dataDir)
    assert.deepEqual(await eventually(async () => {
      const peers = await peersOf('val-b')
      return peers.length === 1 ? peers : undefined
    }), ['val-a'])
    assert.equal((await fetchStatus('val-a')).rosterEpoch, 3, 'a restart resumes at the highest accepted epoch')
  })
})
