import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertRan, npmFetch, run as runIn } from '../npm.ts'

/*
 * The package as a chain client gets it: `npm pack` (whose prepare script builds dist/), installed
 * from the tarball into an empty project, then the README's library example run there with Node and
 * the `fedgate` bin asked for help. The pack runs on a copy of the sources, so it never races a
 * build in the working tree. Installing needs the npm registry the first time (npm run test:registry).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLE_HEADING = '## Using fedgate inside your own libp2p node'
/** Not part of the package build: never copied into the pack directory. */
const NOT_COPIED = new Set(['node_modules', 'dist', '.git', 'test', '.bench'])
const STEP_TIMEOUT_MS = 180_000

async function run (command: string, args: readonly string[], cwd: string): ReturnType<typeof runIn> {
  return await runIn(command, args, cwd, { timeoutMs: STEP_TIMEOUT_MS })
}

/** The first ```js block of the README's library section: the example the README promises works. */
function readmeExample (readme: string): string {
  const start = readme.indexOf(EXAMPLE_HEADING)
  assert.ok(start >= 0, `README.md has a "${EXAMPLE_HEADING}" section`)
  const rest = readme.slice(start + EXAMPLE_HEADING.length)
  const end = rest.search(/\n## /)
  const section = end < 0 ? rest : rest.slice(0, end)
  const block = /```js\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(block !== undefined, 'the library section has a js code block')
  return block
}

/** The text block that follows "it prints:" in the same section. */
function readmeOutput (readme: string): string[] {
  const section = readme.slice(readme.indexOf(EXAMPLE_HEADING))
  const block = /prints:\n\n```\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(block !== undefined, 'the library section shows what the example prints')
  return block.trim().split('\n')
}

describe('the packed npm package', () => {
  let work: string
  let app: string
  let tarball: string
  let manifest: { bin: Record<string, string>, exports: Record<string, { import: string, types: string }>, files: string[] }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'fedgate-package-'))
    const source = join(work, 'source')
    await cp(ROOT, source, { recursive: true, filter: from => !NOT_COPIED.has(basename(from)) && !from.endsWith('.tgz') })
    await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir')
    manifest = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as typeof manifest

    assertRan(await run('npm', ['pack', '--pack-destination', work, '--no-audit', '--no-fund'], source), 'npm pack')
    const packed = (await readdir(work)).filter(name => name.endsWith('.tgz'))
    assert.equal(packed.length, 1, `npm pack made one tarball: ${packed.join(', ')}`)
    tarball = join(work, packed[0] ?? '')

    app = join(work, 'app')
    await mkdir(app)
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'chain-client', private: true, type: 'module' }))
    await npmFetch(['install', tarball], app, 'npm install of the tarball', STEP_TIMEOUT_MS)
  }, { timeout: 2 * STEP_TIMEOUT_MS })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('ships the built JavaScript and declarations its exports and bin name, and no sources or tests', async () => {
    const listing = await run('tar', ['-tzf', tarball], work)
    assertRan(listing, 'tar -tzf')
    const files = listing.stdout.trim().split('\n').map(f => f.replace(/^package\//, ''))
    const targets = [...Object.values(manifest.bin), ...Object.values(manifest.exports).flatMap(e => [e.import, e.types])]
    assert.ok(targets.length >= 5)
    for (const target of targets) assert.ok(files.includes(target.replace(/^\.\//, '')), `the tarball holds ${target}`)
    assert.deepEqual(files.filter(f => f.startsWith('test/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))), [])
    assert.deepEqual(manifest.files, ['dist/'])
  })

  it('the README example, run against the installed package, admits both nodes and completes a consensus round trip', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const example = readmeExample(readme)
    assert.match(example, /from 'fedgate'/)
    assert.doesNotMatch(example, /from '\.|fedgate\//, 'the example imports only the package entry point')
    await writeFile(join(app, 'example.mjs'), example)
    const result = await run(process.execPath, ['example.mjs'], app)
    assertRan(result, 'node example.mjs')
    const printed = result.stdout.trim().split('\n')
    assert.deepEqual(printed, readmeOutput(readme))
    assert.deepEqual(printed, [
      'a admitted: val-acme [validator]',
      'b admitted: val-acme [validator]',
      'consensus reply: vote 1 ack from val-acme'
    ])
  })

  it('the installed fedgate/browser entry is the browser bundle, and loads as a module', async () => {
    assert.equal(manifest.exports['./browser']?.import, './dist/browser/fedgate.js')
    const script = "const m = await import('fedgate/browser'); console.log([m.createLightClient, m.MemoryRosterStore, m.FederationGate, m.verifyCredential].map(f => typeof f).join(' '))"
    const result = await run(process.execPath, ['--input-type=module', '-e', script], app)
    assertRan(result, 'import fedgate/browser')
    assert.equal(result.stdout.trim(), 'function function function function')
  })

  it('the installed fedgate bin prints its help', async () => {
    const bin = manifest.bin.fedgate
    assert.ok(bin !== undefined, 'package.json names a fedgate bin')
    const result = await run(process.execPath, [join('node_modules', 'fedgate', bin), '--help'], app)
    assertRan(result, 'fedgate --help')
    for (const command of ['keygen', 'roster', 'credential', 'node']) assert.match(result.stdout, new RegExp(`^ {2}${command}\\b`, 'm'))
  })
})
