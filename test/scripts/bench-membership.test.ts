import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-membership.ts', import.meta.url))
const run = promisify(execFile)

describe('scripts/bench-membership.ts --quick', () => {
  it('prints both tables and exits 0', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick'], { timeout: 120_000 })
    const lines = stdout.split('\n')
    const rosterHeader = lines.findIndex(l => l.startsWith('members '))
    assert.ok(rosterHeader >= 0, 'roster table header')
    assert.match(lines[rosterHeader + 1] ?? '', /^200\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+/)
    for (const row of ['cold, noble (decode + verify)', 'cold, native (decode + verify)', 'cached (CredentialVerifier)']) {
      assert.ok(lines.some(l => l.startsWith(row) && /\b(PASS|MISS)$/.test(l)), `row ${row}`)
    }
    assert.match(stdout, /^native\/noble: [\d.]+x$/m)
  })

  it('prints one JSON document with --json', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick', '--json'], { timeout: 120_000 })
    const report = JSON.parse(stdout) as {
      roster: Array<{ members: number, totalMs: number, peakRssBytes: number }>
      credentials: { pool: number, memberKeys: number, coldNoble: { opsPerSec: number }, coldNative: { opsPerSec: number }, cached: { opsPerSec: number } }
    }
    assert.equal(report.roster.length, 1)
    assert.equal(report.roster[0]?.members, 200)
    assert.ok((report.roster[0]?.totalMs ?? 0) > 0)
    assert.ok((report.roster[0]?.peakRssBytes ?? 0) > 0)
    assert.equal(report.credentials.pool, 40)
    assert.equal(report.credentials.memberKeys, 80, 'cold runs (a warmup and one measured) each use member keys of their own')
    assert.ok(report.credentials.coldNoble.opsPerSec > 0)
    assert.ok(report.credentials.coldNative.opsPerSec > 0)
    assert.ok(report.credentials.cached.opsPerSec > 0)
  })
})
