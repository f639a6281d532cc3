import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { TEMP_PREFIX } from '../../node/bench/scale/index.ts'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-scale.ts', import.meta.url))
const run = promisify(execFile)

interface Report {
  results: Array<{
    variant: string
    connections: number
    failed: number
    heapPerConnBytes: number
    connPerSec: number
    quarters: Array<{ cpuMsPerConn: number }>
    epochs: Array<{ cpuMs: number, lastPeerMs: number, missing: number }>
    pulls: Record<string, number>
  }>
  targets: Array<{ name: string, pass: boolean | null }>
}

describe('scripts/bench-scale.ts --quick', () => {
  it('ramps both variants, spreads epochs to every peer, prints JSON and removes its temp dir', async () => {
    const before = (await readdir(tmpdir())).filter(f => f.startsWith(TEMP_PREFIX))
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick', '--json', '--n', '24', '--epochs', '1'], { timeout: 240_000 })
    const report = JSON.parse(stdout) as Report
    assert.deepEqual(report.results.map(r => [r.variant, r.connections]), [['fedgate', 24], ['bare', 24]])
    for (const r of report.results) {
      assert.equal(r.failed, 0, `${r.variant}: every connection is made`)
      assert.ok(r.heapPerConnBytes > 0 && r.connPerSec > 0, `${r.variant}: heap and rate are measured`)
      assert.equal(r.quarters.length, 4, `${r.variant}: four quarters of the ramp`)
    }
    const fedgate = report.results[0]
    assert.equal(fedgate?.epochs.length, 1)
    assert.equal(fedgate?.epochs[0]?.missing, 0, 'every peer reaches the epoch')
    assert.ok((fedgate?.epochs[0]?.cpuMs ?? 0) > 0)
    assert.ok(report.targets.some(t => t.name.startsWith('peers that never reached an epoch') && t.pass === true))
    const after = (await readdir(tmpdir())).filter(f => f.startsWith(TEMP_PREFIX))
    assert.deepEqual(after, before, 'the temp dir is removed')
  })

  it('refuses a bad option with a message naming it', async () => {
    await assert.rejects(run(process.execPath, [SCRIPT, '--n', '0'], { timeout: 30_000 }), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /--n must be a whole number from 1 to 20000, not "0"/)
      return true
    })
  })
})
