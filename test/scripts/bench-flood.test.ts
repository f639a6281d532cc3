import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { skipNetns, SKIP_NETNS_ENV } from '../../node/bench/netns.ts'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-flood.ts', import.meta.url))
const NUMBER = String.raw`[\d.,]+`

async function benchDirs (): Promise<string[]> {
  return (await readdir(tmpdir())).filter(name => name.startsWith('fedgate-bench-flood-'))
}

/** Runs the script; resolves with its exit code, output and pid. */
async function runScript (args: readonly string[]): Promise<{ code: number | null, stdout: string, stderr: string, pid: number }> {
  const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>(resolve => { child.once('close', resolve) })
  return { code, stdout, stderr, pid: child.pid ?? 0 }
}

describe('scripts/bench-flood.ts --quick', { skip: skipNetns() ? `${SKIP_NETNS_ENV}=1 and this machine has no network namespaces` : false }, () => {
  it('prints the CPU, latency, footprint and baseline figures and the targets, and leaves no namespace or temp dir behind', async () => {
    const before = await benchDirs()
    const run = await runScript(['--quick'])
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout.split('\n')
    const has = (pattern: RegExp, what: string): void => { assert.ok(lines.some(l => pattern.test(l)), `${what}:\n${run.stdout}`) }
    has(new RegExp(`^refused attempt \\(flood alone, \\d+ s\\)\\s+${NUMBER}\\s+${NUMBER}$`), 'CPU per refused attempt')
    has(new RegExp(`^admitted connection \\(idle\\)\\s+${NUMBER}\\s+${NUMBER}$`), 'CPU per admitted connection')
    for (const phase of ['idle, distinct IP', 'idle, flooding IP', 'flood, distinct IP', 'flood, flooding IP']) {
      has(new RegExp(`^${phase}\\s+\\d+\\s+${NUMBER}\\s+${NUMBER}\\s+${NUMBER}$`), `latency row ${phase}`)
    }
    for (const ip of ['distinct IP', 'flooding IP']) has(new RegExp(`^flood / idle, ${ip}\\s+${NUMBER}x\\s+${NUMBER}x$`), `ratio row ${ip}`)
    has(new RegExp(`^open sockets\\s+\\d+\\s+\\d+\\s+\\d+$`), 'sockets')
    has(new RegExp(`^resident memory \\(MiB\\)\\s+${NUMBER}\\s+${NUMBER}\\s+${NUMBER}$`), 'memory')
    has(/^flood: [\d,]+ attempts, [\d,]+ refused, 0 admitted;/, 'no Sybil admitted')
    for (const target of ['refused attempt CPU <= 0.5x', 'admission p99 during flood <= 2x idle, distinct IP', 'admission p99 during flood <= 2x idle, flooding IP', 'back to baseline within 10 s']) {
      has(new RegExp(`^${target.replace(/[().]/g, '\\$&')}.*\\b(PASS|MISS)$`), `target ${target}`)
    }
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    assert.ok(!namespaces.includes(`fedgate-${run.pid.toString(36)}`), `the run removed its namespaces:\n${namespaces}`)
    assert.deepEqual((await benchDirs()).filter(name => !before.includes(name)), [], 'the run left no temp dir behind')
  })
})
