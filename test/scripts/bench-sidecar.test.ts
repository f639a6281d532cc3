import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-sidecar.ts', import.meta.url))
const run = promisify(execFile)
const NUMBER = String.raw`[\d.]+`

async function benchDirs (): Promise<string[]> {
  return (await readdir(tmpdir())).filter(name => name.startsWith('fedgate-bench-sidecar-'))
}

describe('scripts/bench-sidecar.ts --quick', () => {
  it('prints the tunnel, direct TCP and bare libp2p rows, redis-benchmark both ways and the targets, and removes its temp dir', async () => {
    const before = await benchDirs()
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick'], { timeout: 180_000 })
    const lines = stdout.split('\n')
    for (const label of ['direct TCP (loopback)', 'fedgate tunnel (forward → expose)', 'bare libp2p stream (same Noise)']) {
      assert.ok(lines.some(l => new RegExp(`^${label.replace(/[()]/g, '\\$&')}\\s+${NUMBER}\\s+${NUMBER}\\s+${NUMBER}\\s+${NUMBER}$`).test(l)), `row ${label}:\n${stdout}`)
    }
    for (const test of ['SET', 'GET']) {
      assert.ok(lines.some(l => new RegExp(`^${test}\\s+\\d+\\s+\\d+\\s+${NUMBER}x\\s+${NUMBER}\\s+${NUMBER}$`).test(l)), `redis-benchmark row ${test}`)
    }
    for (const target of ['one tunnel >= 1 Gbit/s', 'echo p50 overhead over direct TCP', 'tunnel / bare libp2p stream throughput']) {
      assert.ok(lines.some(l => l.startsWith(target) && /\b(PASS|MISS)$/.test(l)), `target ${target}`)
    }
    assert.match(stdout, /^daemon memory after the run: exposer RSS \d+ MiB/m)
    assert.deepEqual((await benchDirs()).filter(name => !before.includes(name)), [], 'the run left no temp dir behind')
  })
})
