import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertRan, childEnv, npmFetch, npmOnline, run } from '../npm.ts'

/*
 * fedgate names libp2p and @libp2p/interface as peer dependencies with a tested range. `npm test`
 * runs the suite against the locked versions; this runs the type check and the node tests again on
 * a copy of the repository with the lowest versions of both ranges installed (and with the newest,
 * when the lock file is behind it). It asks the npm registry for the newest releases, and installs
 * from it what npm's cache lacks: npm run test:libp2p-range.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PEERS = ['libp2p', '@libp2p/interface'] as const
type Peer = typeof PEERS[number]
/** Not copied: installed or built afresh in the copy. */
const NOT_COPIED = new Set(['node_modules', 'dist', '.git', '.bench'])
const STEP_TIMEOUT_MS = 10 * 60_000
const NODE_TESTS = 'test/node/**/*.test.ts'

const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { peerDependencies: Record<Peer, string> }

/** The lowest version a caret range admits: fedgate's peer ranges are all `^X.Y.Z`. */
function lowest (peer: Peer): string {
  const range = manifest.peerDependencies[peer]
  const match = /^\^(\d+\.\d+\.\d+)$/.exec(range)
  assert.ok(match?.[1] !== undefined, `peerDependencies.${peer} is ${range}; this test expects a caret range ^X.Y.Z`)
  return match[1]
}

function compareVersions (a: string, b: string): number {
  const [x, y] = [a, b].map(v => v.split('.').map(Number))
  for (let i = 0; i < 3; i++) {
    const d = (x?.[i] ?? 0) - (y?.[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** The newest release (no pre-release) the peer range admits, as the registry lists it. */
async function newest (peer: Peer): Promise<string> {
  const view = await npmOnline(['view', `${peer}@${manifest.peerDependencies[peer]}`, 'version', '--json'], ROOT, `npm view ${peer}`, STEP_TIMEOUT_MS)
  const listed = JSON.parse(view.stdout) as string | string[]
  const releases = (Array.isArray(listed) ? listed : [listed]).filter(v => /^\d+\.\d+\.\d+$/.test(v)).sort(compareVersions)
  const last = releases.at(-1)
  assert.ok(last !== undefined, `the registry lists no release of ${peer} in ${manifest.peerDependencies[peer]}`)
  return last
}

async function locked (peer: Peer): Promise<string> {
  return (JSON.parse(await readFile(join(ROOT, 'node_modules', peer, 'package.json'), 'utf8')) as { version: string }).version
}

describe('the libp2p peer range', () => {
  let work: string
  let source: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'fedgate-libp2p-range-'))
    source = join(work, 'source')
    await cp(ROOT, source, { recursive: true, filter: from => !NOT_COPIED.has(basename(from)) && !from.endsWith('.tgz') })
    await npmFetch(['ci'], source, 'npm ci in a copy of the repository', STEP_TIMEOUT_MS)
  }, { timeout: STEP_TIMEOUT_MS })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  /** Installs these versions in the copy, then type-checks it and runs the node tests there. */
  async function suiteAgainst (versions: Readonly<Record<Peer, string>>): Promise<void> {
    const specs = PEERS.map(peer => `${peer}@${versions[peer]}`)
    await npmFetch(['install', '--no-save', ...specs], source, `npm install ${specs.join(' ')}`, STEP_TIMEOUT_MS)
    for (const peer of PEERS) {
      const installed = JSON.parse(await readFile(join(source, 'node_modules', peer, 'package.json'), 'utf8')) as { version: string }
      assert.equal(installed.version, versions[peer], `${peer} in the copy`)
    }
    assertRan(await run(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', 'test/tsconfig.json'], source, { timeoutMs: STEP_TIMEOUT_MS }), `tsc with ${specs.join(' ')}`)
    const tests = await run(process.execPath, ['--test', '--test-concurrency=2', NODE_TESTS], source, { env: childEnv(), timeoutMs: STEP_TIMEOUT_MS })
    assertRan(tests, `the node tests with ${specs.join(' ')}`)
    assert.match(tests.stdout, /^ℹ fail 0$/m)
  }

  const low = { 'libp2p': lowest('libp2p'), '@libp2p/interface': lowest('@libp2p/interface') }

  it(`the lowest versions: libp2p ${low.libp2p}, @libp2p/interface ${low['@libp2p/interface']}`, { timeout: 3 * STEP_TIMEOUT_MS }, async () => {
    await suiteAgainst(low)
  })

  it('the newest versions: the locked ones (which npm test runs), or else installed and run here', { timeout: 3 * STEP_TIMEOUT_MS }, async (t) => {
    const high = { 'libp2p': await newest('libp2p'), '@libp2p/interface': await newest('@libp2p/interface') }
    const lock = { 'libp2p': await locked('libp2p'), '@libp2p/interface': await locked('@libp2p/interface') }
    if (PEERS.every(peer => high[peer] === lock[peer])) {
      t.diagnostic(`libp2p ${high.libp2p} and @libp2p/interface ${high['@libp2p/interface']} are the newest in range and the locked versions: npm test runs them`)
      return
    }
    t.diagnostic(`the lock file has libp2p ${lock.libp2p}, @libp2p/interface ${lock['@libp2p/interface']}; running the newest: libp2p ${high.libp2p}, @libp2p/interface ${high['@libp2p/interface']}`)
    await suiteAgainst(high)
  })
})
