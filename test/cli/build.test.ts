import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { runProcess } from './run.ts'

describe('fedgate bin', () => {
  it('npm run build emits dist/scripts/fedgate.js, which runs and prints help', { timeout: 120_000 }, async () => {
    const build = await runProcess('npm', ['run', 'build'])
    assert.equal(build.code, 0, `npm run build failed: ${build.stdout}${build.stderr}`)
    const help = await runProcess(process.execPath, ['dist/scripts/fedgate.js', '--help'])
    assert.equal(help.code, 0, help.stderr)
    for (const command of ['keygen', 'roster', 'credential']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'))
    }
  })
})
