import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-keystore.ts', import.meta.url))
const run = promisify(execFile)

describe('scripts/bench-keystore.ts --quick', () => {
  it('prints the table with one row at the lowest cost', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick'], { timeout: 120_000 })
    const lines = stdout.trim().split('\n')
    assert.match(lines[0] ?? '', /^cost \(log2 N\)\s+scrypt MiB\s+encrypt ms\s+open ms\s+rss MiB$/)
    assert.match(lines[1] ?? '', /^14\s+16\s+[\d.]+\s+[\d.]+\s+\d+$/)
    assert.equal(lines.length, 2)
  })

  it('prints one JSON document with --json', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick', '--json'], { timeout: 120_000 })
    const { rows } = JSON.parse(stdout) as { rows: Array<{ cost: number, decryptMs: number }> }
    assert.deepEqual(rows.map(r => r.cost), [14])
    assert.ok((rows[0]?.decryptMs ?? 0) > 0)
  })
})
