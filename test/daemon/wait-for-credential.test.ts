import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { revoke } from '../../membership/index.ts'
import {
  createFederationBuilder, writeCredentialFile, writeKeyFile, writeRosterFile, type FederationBuilder
} from '../../node/builder/index.ts'
import { createFederationNode, silentLog, type FederationNode } from '../../node/index.ts'
import { CredentialWaitAbortedError, type WaitingDocument } from '../../node/daemon/credential-wait.ts'
import { LISTEN_ADDRS_FILE, loadDaemonConfig, startDaemon, type Daemon } from '../../node/daemon/index.ts'
import { freePorts } from '../../node/demo/index.ts'
import { eventually } from '../node/fixture.ts'
import { assertFails, fedgate } from '../cli/run.ts'

const HOUR_MS = 3_600_000

/** stderr of a daemon, kept for assertions. */
function captureStderr (): { stream: Writable, text: () => string } {
  let text = ''
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { text += chunk.toString(); done() } })
  return { stream, text: () => text }
}

async function healthz (port: number): Promise<{ status: number, doc: unknown } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`)
    return { status: res.status, doc: await res.json() }
  } catch {
    return null
  }
}

describe('node start --wait-for-credential', () => {
  let dir: string
  let builder: FederationBuilder
  let rosterFile: string
  const daemons: Daemon[] = []
  const nodes: FederationNode[] = []
  /** Ends any wait a failed test left running. */
  const waits = new AbortController()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-wait-'))
    builder = createFederationBuilder({ federation: 'wait-fed', members: [{ id: 'val-w', roles: ['validator'] }, { id: 'val-peer', roles: ['validator'] }, { id: 'val-gone', roles: ['validator'] }] })
    builder.commit(builder.nextEpoch(r => revoke(r, { member: 'val-gone' })))
    rosterFile = join(dir, 'roster.json')
    await writeRosterFile(rosterFile, builder.roster)
  })

  after(async () => {
    waits.abort()
    await Promise.all(daemons.map(async d => d.stop()))
    await Promise.all(nodes.map(async n => n.stop()))
    await rm(dir, { recursive: true, force: true })
  })

  /** Files and a config for node `name` of member `member`, with `credential` options (none: no credential file). */
  async function setup (name: string, member: string, admin: number, credential?: { notBefore: number, ttlMs: number }, wait = true): Promise<{ config: Awaited<ReturnType<typeof loadDaemonConfig>>, credentialFile: string }> {
    const home = join(dir, name)
    await mkdir(home)
    const key = await builder.nodeKey(name)
    await writeKeyFile(join(home, 'node.key'), key)
    const credentialFile = join(home, 'credential.json')
    if (credential !== undefined) await writeCredentialFile(credentialFile, await builder.issue({ member, node: name, ...credential }))
    const config = await loadDaemonConfig({
      key: join(home, 'node.key'), credential: credentialFile, roster: rosterFile, dataDir: join(home, 'data'),
      listen: ['/ip4/127.0.0.1/tcp/0'], admin: `127.0.0.1:${admin}`, waitForCredential: wait
    })
    return { config, credentialFile }
  }

  it('waits with an expired credential (healthz 503, no listener), then starts and admits peers once a renewal lands', async () => {
    const [port = 0] = await freePorts(1)
    const { config, credentialFile } = await setup('val-w', 'val-w', port, { notBefore: Date.now() - 2 * HOUR_MS, ttlMs: HOUR_MS })
    const stderr = captureStderr()
    let started = false
    const starting = startDaemon(config, { stderr: stderr.stream, log: silentLog(), signal: waits.signal }).then(d => { started = true; daemons.push(d); return d })
    await eventually(async () => await healthz(port) !== null, 'the waiting admin endpoint')
    const health = await healthz(port)
    assert.equal(health?.status, 503)
    const doc = health?.doc as WaitingDocument
    assert.equal(doc.reason, 'expired')
    assert.equal(doc.waiting, 'credential')
    assert.equal(doc.credentialFile, credentialFile)
    assert.match(stderr.text(), /own credential expired 1h ago \(.*\); waiting for a renewed credential in .*credential\.json/)
    assert.equal(started, false)
    await assert.rejects(stat(join(config.dataDir, LISTEN_ADDRS_FILE)), { code: 'ENOENT' }, 'no peer listener while waiting')
    const status = await fedgate('node', 'status', '--admin', `127.0.0.1:${port}`)
    assert.match(assertFails(status, 1), /the node has not started: it waits for a valid credential in .*credential\.json \(the one there: expired\)/)

    await writeCredentialFile(credentialFile, await builder.issue({ member: 'val-w', node: 'val-w', ttlMs: HOUR_MS }))
    const daemon = await starting
    assert.equal((await healthz(port))?.status, 200)
    assert.match(stderr.text(), /fedgate node started/)

    const peerKey = await builder.nodeKey('val-peer')
    const peer = await createFederationNode({
      key: peerKey, credential: await builder.issue({ member: 'val-peer', node: 'val-peer' }),
      roster: { dataDir: join(dir, 'peer-data'), rosterFile }, listen: [], bans: false, peers: false
    })
    nodes.push(peer)
    const addr = daemon.node.getMultiaddrs()[0]
    assert.ok(addr !== undefined)
    await peer.dial(addr)
    await eventually(() => daemon.node.peers().some(p => p.peerId === peer.peerId), 'the started node to admit the peer')
  })

  it('a credential not valid yet starts the node when its time comes, with no file change', async () => {
    const [port = 0] = await freePorts(1)
    const { config } = await setup('val-early', 'val-w', port, { notBefore: Date.now() + builder.roster.policy.clockSkewMs + 1_500, ttlMs: HOUR_MS })
    const stderr = captureStderr()
    const daemon = await startDaemon(config, { stderr: stderr.stream, log: silentLog(), signal: waits.signal })
    daemons.push(daemon)
    assert.match(stderr.text(), /is not valid until/)
    assert.ok(Date.now() >= daemon.node.credential.notBeforeMs - daemon.node.roster.policy.clockSkewMs)
  })

  it('does not wait for what a renewal cannot fix: a revoked member fails the start at once', async () => {
    const { config } = await setup('val-gone', 'val-gone', 0, { notBefore: Date.now(), ttlMs: HOUR_MS })
    await assert.rejects(startDaemon(config, { stderr: captureStderr().stream, log: silentLog() }), /own credential refused: revoked/)
  })

  it('without the flag, an expired credential still fails the start (control)', async () => {
    const { config } = await setup('val-noflag', 'val-w', 0, { notBefore: Date.now() - 2 * HOUR_MS, ttlMs: HOUR_MS }, false)
    await assert.rejects(startDaemon(config, { stderr: captureStderr().stream, log: silentLog() }), /own credential refused: expired/)
  })

  it('a stop asked for while waiting for a missing credential ends the wait and frees the admin address', async () => {
    const [port = 0] = await freePorts(1)
    const { config } = await setup('val-missing', 'val-w', port)
    const stop = new AbortController()
    const stderr = captureStderr()
    const starting = startDaemon(config, { stderr: stderr.stream, log: silentLog(), signal: stop.signal })
    await eventually(async () => ((await healthz(port))?.doc as WaitingDocument | undefined)?.reason === 'unreadable', 'the waiting endpoint to report the missing file')
    assert.match(stderr.text(), /is missing or unreadable/)
    stop.abort()
    await assert.rejects(starting, (err: unknown) => err instanceof CredentialWaitAbortedError)
    assert.equal(await healthz(port), null)
  })
})
