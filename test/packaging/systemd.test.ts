import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const UNITS = fileURLToPath(new URL('../../packaging/systemd/', import.meta.url))
const run = promisify(execFile)

async function hasSystemdAnalyze (): Promise<boolean> {
  return await run('systemd-analyze', ['--version']).then(() => true, () => false)
}

describe('packaging/systemd units', () => {
  it('run the renewal agent as the README documents it', async () => {
    const agent = await readFile(join(UNITS, 'fedgate-renew@.service'), 'utf8')
    assert.match(agent, /fedgate credential renew .*--watch/s)
    assert.match(agent, /--passphrase-file/)
    const once = await readFile(join(UNITS, 'fedgate-renew-once@.service'), 'utf8')
    assert.doesNotMatch(once, /--watch/)
    assert.match(await readFile(join(UNITS, 'fedgate-renew-once@.timer'), 'utf8'), /OnUnitActiveSec=/)
  })

  it('pass systemd-analyze verify (where systemd is installed)', async (t) => {
    if (!await hasSystemdAnalyze()) {
      t.skip('systemd-analyze is not installed')
      return
    }
    const dir = await mkdtemp(join(tmpdir(), 'fedgate-units-'))
    try {
      // verify checks that ExecStart's program exists: point it at one that does.
      for (const name of await readdir(UNITS)) {
        await writeFile(join(dir, name), (await readFile(join(UNITS, name), 'utf8')).replaceAll('/usr/bin/fedgate', '/bin/true'))
      }
      const instances = (await readdir(dir)).map(name => name.replace('@.', '@val-1.'))
      for (const name of await readdir(dir)) await writeFile(join(dir, name.replace('@.', '@val-1.')), await readFile(join(dir, name)))
      const { stderr } = await run('systemd-analyze', ['verify', '--man=no', ...instances.map(n => join(dir, n))]).catch((err: { stderr?: string }) => ({ stderr: err.stderr ?? String(err) }))
      assert.equal(stderr.trim(), '')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
