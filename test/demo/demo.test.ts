import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Credential, Roster } from '../../membership/index.ts'
import { formatHostPort, loadDaemonConfig } from '../../node/daemon/config.ts'
import type { DemoSummary } from '../../node/demo/index.ts'
import { assertFails, json, REPO, runProcess, STACK_TRACE_LINE, type CliRun } from '../cli/run.ts'

const VALIDATORS = ['val-1', 'val-2', 'val-3', 'val-4']
const REVOKED = 'val-4'

async function demo (...args: string[]): Promise<CliRun> {
  return await runProcess(process.execPath, ['scripts/fedgate.ts', 'demo', ...args])
}

function assertExitOk (run: CliRun): void {
  assert.equal(run.code, 0, `expected exit 0, got ${String(run.code)}; stderr: ${run.stderr}`)
}

async function exists (file: string): Promise<boolean> {
  return await stat(file).then(() => true, () => false)
}

/** The unordered pair a link joins, for comparing sets of connections. */
const pair = (a: string, b: string): string => [a, b].sort().join(' ↔ ')

describe('fedgate demo --json: what a throwaway federation reports', () => {
  let summary: DemoSummary

  before(async () => {
    const run = await demo('--json')
    assertExitOk(run)
    assert.equal(run.stderr, '')
    summary = json<DemoSummary>(run)
  })

  it('generates a 2-of-3 federation with the three chain protocols in its policy, then removes it', async () => {
    assert.equal(summary.setup.admins, 3)
    assert.equal(summary.setup.threshold, 2)
    assert.equal(summary.setup.signedBy.length, 2)
    assert.equal(summary.setup.members, 7)
    assert.deepEqual(summary.setup.protocols, {
      '/chain/consensus/1.0.0': ['validator'],
      '/chain/bridge/1.0.0': ['validator', 'relayer'],
      '/chain/headers/1.0.0': ['validator', 'full-node', 'light-client']
    })
    assert.equal(summary.kept, null)
    assert.equal(await exists(summary.setup.dir), false, 'the temp dir is removed without --keep')
  })

  it('starts real nodes on 127.0.0.1 from their configs, and one stock libp2p node', () => {
    const fedgateNodes = summary.nodes.filter(n => n.kind === 'fedgate')
    assert.equal(fedgateNodes.length, 9)
    for (const n of fedgateNodes) assert.match(n.listen ?? '', /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
    assert.deepEqual(summary.nodes.filter(n => n.kind === 'stock-libp2p').map(n => n.name), ['intruder'])
  })

  it('forms the full validator mesh: 6 connections, each admitted as validator', () => {
    assert.deepEqual(summary.mesh.validators, VALIDATORS)
    assert.equal(summary.mesh.connections.length, 6)
    const pairs = new Set(summary.mesh.connections.map(c => pair(c.from, c.to)))
    const expected = new Set(VALIDATORS.flatMap((a, i) => VALIDATORS.slice(i + 1).map(b => pair(a, b))))
    assert.deepEqual(pairs, expected)
    for (const c of summary.mesh.connections) assert.deepEqual(c.roles, ['validator'])
  })

  it('admits the relayer, the full node and the light client in their roles', () => {
    const roleOf = (from: string, to: string): readonly string[] | undefined =>
      summary.admitted.find(l => l.from === from && l.to === to)?.roles
    assert.deepEqual(roleOf('relayer-1', 'val-1'), ['relayer'])
    assert.deepEqual(roleOf('full-1', 'val-3'), ['full-node'])
    assert.deepEqual(roleOf('full-1', 'val-4'), ['full-node'])
    assert.deepEqual(roleOf('light-1', 'full-1'), ['light-client'])
  })

  it('refuses the intruder with no-credential, the forger with bad-signature and the expired node with expired', () => {
    const byName = new Map(summary.refused.map(r => [r.name, r]))
    const intruder = byName.get('intruder')
    assert.ok(intruder !== undefined)
    assert.equal(intruder.code, 'no-credential')
    assert.equal(intruder.targetCode, 'no-credential')
    assert.equal(intruder.targetConnections, 0)
    const forger = byName.get('forger')
    assert.equal(forger?.code, 'bad-signature')
    assert.equal(forger.targetCode, 'bad-signature')
    const expired = byName.get('full-1-old')
    assert.equal(expired?.code, 'expired')
    assert.equal(expired.by, 'remote')
    assert.equal(expired.targetCode, 'expired')
    for (const r of summary.refused) {
      assert.equal(r.target, 'val-1')
      assert.equal(r.targetConnections, 0, `${r.name} never got a connection`)
    }
  })

  it('resets the relayer\'s consensus stream with protocol-not-allowed before the handler, while bridge reaches it', () => {
    const of = (protocol: string): DemoSummary['protocols'][number] | undefined =>
      summary.protocols.find(p => p.from === 'relayer-1' && p.to === 'val-1' && p.protocol === protocol)
    const consensus = of('/chain/consensus/1.0.0')
    assert.equal(consensus?.outcome, 'reset')
    assert.equal(consensus.code, 'protocol-not-allowed')
    assert.equal(consensus.handlerCalls, 0)
    assert.equal(consensus.connectionKept, true)
    const bridge = of('/chain/bridge/1.0.0')
    assert.equal(bridge?.outcome, 'reached')
    assert.equal(bridge.handlerCalls, 1)
    assert.equal(bridge.code, null)
    const headers = summary.protocols.find(p => p.from === 'light-1' && p.protocol === '/chain/headers/1.0.0')
    assert.equal(headers?.outcome, 'reached')
  })

  it('revokes val-4 with a 2-of-3 signed epoch: every node that held it drops it as revoked, with a measured latency', () => {
    const r = summary.revocation
    assert.equal(r.member, REVOKED)
    assert.equal(r.epoch, r.previousEpoch + 1)
    assert.equal(r.signedBy.length, 2)
    assert.equal(r.acceptedBy.length, r.rosterFiles)
    assert.ok(r.acceptedBy.includes(REVOKED))
    assert.deepEqual(new Set(r.drops.map(d => d.node)), new Set(['val-1', 'val-2', 'val-3', 'full-1']))
    for (const d of r.drops) {
      assert.equal(d.peer, REVOKED)
      assert.equal(d.code, 'revoked')
    }
    assert.equal(r.revokedSide.length, r.drops.length)
    assert.ok(Number.isFinite(r.latencyMs) && r.latencyMs > 0)
    assert.equal(r.latencyMs, Math.max(...r.drops.map(d => d.ms), ...r.revokedSide.map(d => d.ms)))
    assert.equal(r.redial.code, 'revoked')
    assert.equal(r.redial.targetCode, 'revoked')
  })

  it('ends with a symmetric connection table: val-4 and the outsiders hold nothing, the rest stays connected', () => {
    const { names, connected } = summary.table
    const at = (a: string, b: string): boolean => connected[names.indexOf(a)]?.[names.indexOf(b)] === true
    assert.equal(names.length, 10)
    assert.equal(connected.length, names.length)
    for (const a of names) {
      for (const b of names) assert.equal(at(a, b), at(b, a), `${a}/${b} symmetric`)
    }
    for (const lonely of [REVOKED, 'full-1-old', 'forger', 'intruder']) {
      assert.ok(names.every(other => !at(lonely, other)), `${lonely} holds no connection`)
    }
    const links = names.flatMap((a, i) => names.slice(i + 1).filter(b => at(a, b)).map(b => pair(a, b)))
    assert.deepEqual(new Set(links), new Set([
      pair('val-1', 'val-2'), pair('val-1', 'val-3'), pair('val-2', 'val-3'),
      pair('relayer-1', 'val-1'), pair('full-1', 'val-3'), pair('light-1', 'full-1')
    ]))
  })
})

describe('fedgate demo: the human report', () => {
  it('prints each step with its reason codes and the connection table, and exits 0', async () => {
    const run = await demo()
    assertExitOk(run)
    assert.equal(run.stderr, '')
    const out = run.stdout
    for (const code of ['bad-signature', 'expired', 'protocol-not-allowed', 'revoked']) assert.ok(out.includes(code), `mentions ${code}`)
    assert.match(out, /6 connections: every validator holds the other 3/)
    assert.match(out, /roster file write → last connection closed: \d+(\.\d+)? (ms|s)/)
    const tableRow = out.split('\n').find(l => /^\s+4 val-4\s/.test(l))
    assert.ok(tableRow !== undefined, 'the table has a row for val-4')
    assert.doesNotMatch(tableRow, /●/, 'val-4 is connected to no one')
  })
})

describe('fedgate demo --keep DIR', () => {
  let root: string

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'fedgate-demo-test-'))
  })

  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('keeps the federation: private keys 0600, the revoked roster, credentials, and configs the daemon accepts', async () => {
    const dir = join(root, 'fed')
    const run = await demo('--json', '--keep', dir)
    assertExitOk(run)
    const summary = json<DemoSummary>(run)
    assert.equal(summary.kept, dir)
    for (const n of summary.nodes.filter(n => n.config !== null)) {
      const admin = (await loadDaemonConfig({ config: n.config ?? '' })).admin
      assert.equal(n.admin, admin === null ? null : formatHostPort(admin), `${n.name}: the admin address of its config`)
    }

    const keyFiles = [
      ...(await readdir(join(dir, 'admins'))).map(f => join(dir, 'admins', f)),
      ...(await readdir(join(dir, 'members'))).map(f => join(dir, 'members', f))
    ]
    assert.equal(keyFiles.length, 3 + 7)
    const configs = (await readdir(join(dir, 'nodes'))).filter(f => f.endsWith('.json'))
    assert.equal(configs.length, 8)
    for (const file of configs) {
      const config = await loadDaemonConfig({ config: join(dir, 'nodes', file) })
      keyFiles.push(config.key)
      assert.ok(Credential.decode(await readFile(config.credential, 'utf8')))
      assert.match(config.listen[0] ?? '', /^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/)
      assert.equal(config.admin?.host, '127.0.0.1')
    }
    for (const file of keyFiles) assert.equal((await stat(file)).mode & 0o777, 0o600, `${file} is mode 0600`)

    const roster = Roster.parse(await readFile(join(dir, 'roster.json'), 'utf8'))
    assert.equal(roster.epoch, 2)
    assert.ok(roster.revokedMembers.has(REVOKED))
  })

  it('prints how to start val-1 by hand and the admin address to pass to node status', async () => {
    const dir = join(root, 'hint')
    const run = await demo('--keep', dir)
    assertExitOk(run)
    const config = await loadDaemonConfig({ config: join(dir, 'nodes', 'val-1.json') })
    assert.ok(config.admin !== null)
    assert.ok(run.stdout.includes(`fedgate node start --config ${join(dir, 'nodes', 'val-1.json')}\n`), run.stdout)
    assert.ok(run.stdout.includes(`fedgate node status --admin ${formatHostPort(config.admin)}\n`), run.stdout)
  })

  it('refuses a directory that is not empty, and leaves it as it was', async () => {
    const dir = join(root, 'busy')
    await mkdir(dir)
    await writeFile(join(dir, 'notes.txt'), 'mine\n')
    const run = await demo('--keep', dir)
    assertFails(run, 1)
    assert.deepEqual(await readdir(dir), ['notes.txt'])
  })
})

describe('fedgate demo: its temp dir (private keys) is removed however the demo ends', () => {
  let root: string

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'fedgate-demo-tmp-'))
  })

  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  /** A demo whose temp dir goes under its own TMPDIR, so the test sees whatever it leaves behind. */
  const spawnDemo = (tmp: string): ReturnType<typeof spawn> =>
    spawn(process.execPath, ['scripts/fedgate.ts', 'demo'], { cwd: REPO, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} in the middle of the run removes it, and the demo dies of the signal`, async () => {
      const tmp = join(root, signal)
      await mkdir(tmp)
      const child = spawnDemo(tmp)
      let stdout = ''
      let stderr = ''
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
      const exited = new Promise<NodeJS.Signals | number | null>(resolve => { child.on('close', (code, sig) => { resolve(sig ?? code) }) })
      // Step 2 starts the nodes: by then the federation's keys are on disk.
      await new Promise<void>(resolve => {
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk
          if (stdout.includes('\n2. ')) resolve()
        })
      })
      const created = /created in (\S+)/.exec(stdout)?.[1]
      assert.ok(created?.startsWith(tmp) === true, `the demo reported its temp dir under ${tmp}: ${stdout}`)
      child.kill(signal)
      assert.equal(await exited, signal)
      assert.equal(stderr, '')
      assert.deepEqual(await readdir(tmp), [], 'nothing is left in TMPDIR')
    })
  }

  it('stdout closed by its reader (fedgate demo | head -1): the demo finishes, exits 0 and removes it', { timeout: 60_000 }, async () => {
    const tmp = join(root, 'epipe')
    await mkdir(tmp)
    const child = spawnDemo(tmp)
    child.stdout?.destroy()
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
    assert.doesNotMatch(stderr, STACK_TRACE_LINE)
    assert.equal(code, 0, stderr)
    assert.deepEqual(await readdir(tmp), [], 'nothing is left in TMPDIR')
  })
})
