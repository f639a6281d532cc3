import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnv, npmFetch, run } from '../../npm.ts'

/*
 * Runs libp2p's connection-encryption compliance suite (@libp2p/interface-compliance-tests, a mocha
 * suite) against fedgate's membership encrypter. The suite drags in its own build tooling (about
 * 1,700 packages, 540 MB), so it is not a devDependency: it is installed on first use, from the
 * pinned package.json and lock file next to this file, into node_modules/.cache, and reinstalled
 * only when those files change. The first run therefore needs the npm registry (npm run test:registry).
 */

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..', '..', '..')
const CACHE = join(ROOT, 'node_modules', '.cache', 'fedgate-compliance')
const INSTALLED_FILES = ['package.json', 'package-lock.json', 'suite.mjs'] as const
const STAMP = '.installed'
const SPEC = join(HERE, 'encrypter.spec.ts')
/** The suite's 10,000-chunk echo takes seconds even for plain Noise; mocha's default is 2 s. */
const MOCHA_TIMEOUT_MS = 60_000
const INSTALL_TIMEOUT_MS = 15 * 60_000

const EXPECTED_TESTS = [
  'has a protocol string',
  'inbound connections should verify peer integrity if known',
  'it wraps the provided duplex connection',
  'should return the remote peer id'
]

async function installedStamp (): Promise<string> {
  const hash = createHash('sha256')
  for (const file of INSTALLED_FILES) hash.update(await readFile(join(HERE, file)))
  return hash.digest('hex')
}

/** Installs the pinned suite into the cache folder unless the same files are installed there already. */
async function ensureSuite (): Promise<void> {
  const stamp = await installedStamp()
  const current = await readFile(join(CACHE, STAMP), 'utf8').catch(() => '')
  if (current === stamp) return
  await rm(CACHE, { recursive: true, force: true })
  await mkdir(CACHE, { recursive: true })
  for (const file of INSTALLED_FILES) await copyFile(join(HERE, file), join(CACHE, file))
  // No install scripts: the suite needs none, and some of its tooling would fetch binaries.
  await npmFetch(['ci', '--ignore-scripts'], CACHE, 'npm ci of the compliance suite', INSTALL_TIMEOUT_MS)
  await writeFile(join(CACHE, STAMP), stamp)
}

interface MochaReport {
  stats: { tests: number, passes: number, failures: number, pending: number }
  tests: Array<{ title: string, err: { message?: string } }>
}

describe('libp2p connection-encryption compliance', () => {
  it('the membership encrypter passes all four tests of @libp2p/interface-compliance-tests', { timeout: INSTALL_TIMEOUT_MS }, async () => {
    await ensureSuite()
    const dir = await mkdtemp(join(tmpdir(), 'fedgate-mocha-'))
    try {
      const reportFile = join(dir, 'report.json')
      const mocha = await run(process.execPath, [
        join(CACHE, 'node_modules', 'mocha', 'bin', 'mocha.js'),
        '--timeout', String(MOCHA_TIMEOUT_MS),
        '--reporter', 'json',
        '--reporter-option', `output=${reportFile}`,
        SPEC
      ], CACHE, { env: childEnv({ FEDGATE_COMPLIANCE_SUITE: join(CACHE, 'suite.mjs') }) })
      const report = JSON.parse(await readFile(reportFile, 'utf8').catch(() => 'null')) as MochaReport | null
      assert.ok(report !== null, `mocha wrote no report (exit ${String(mocha.code)}):\n${mocha.stdout}\n${mocha.stderr}`)
      const failed = report.tests.filter(t => t.err.message !== undefined).map(t => `${t.title}: ${t.err.message ?? ''}`)
      assert.deepEqual(failed, [])
      assert.deepEqual(report.tests.map(t => t.title).sort(), EXPECTED_TESTS)
      assert.deepEqual([report.stats.passes, report.stats.failures, report.stats.pending], [4, 0, 0])
      assert.equal(mocha.code, 0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
