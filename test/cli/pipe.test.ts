import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initRoster } from '../../membership/index.ts'
import { ADMINS, genesis } from '../membership/fixtures.ts'
import { assertFails, fedgateClosedStdout, STACK_TRACE_LINE } from './run.ts'

/** `fedgate … | head -1`, `| grep -q`, `| true`: the reader goes away before fedgate has written. */
describe('fedgate CLI: output into a pipe whose reader has gone', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-cli-pipe-'))
    await writeFile(file('roster.json'), genesis().encode())
    const [admin] = ADMINS
    assert.ok(admin !== undefined)
    await writeFile(file('unsigned.json'), initRoster({ federation: 'f', admins: [admin.publicKey], threshold: 1 }).encode())
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a command that succeeds still does its work and exits 0, with nothing on stderr', async () => {
    const run = await fedgateClosedStdout('keygen', 'admin', '--out', file('admin.key'))
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    assert.equal((await stat(file('admin.key'))).mode & 0o777, 0o600)
  })

  it('a command that fails after printing keeps its exit code and its one error line', async () => {
    const run = await fedgateClosedStdout('roster', 'verify', file('unsigned.json'))
    const line = assertFails(run, 1)
    assert.ok(line.includes('threshold-not-met'), line)
  })

  it('--json and --help output end the same way: no stack trace, exit 0', async () => {
    for (const args of [['roster', 'verify', file('roster.json'), '--json'], ['--help']]) {
      const run = await fedgateClosedStdout(...args)
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
      assert.doesNotMatch(run.stderr, STACK_TRACE_LINE)
    }
  })
})
