import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertFails } from '../cli/run.ts'
import { Federation, fedgate } from './federation.ts'

interface FailureCase {
  readonly name: string
  readonly exit: 1 | 2
  /** What the one error line must name: the file, JSON path, flag, address or reason code at fault. */
  readonly names: (ctx: { dir: string, port: number }) => string
  readonly args: (ctx: { dir: string, port: number, fed: Federation }) => Promise<string[]>
}

/** A config file of its own (and a data directory of its own) per case. */
const config = async (fed: Federation, name: string, changes: Record<string, unknown>): Promise<string[]> =>
  ['--config', await fed.writeConfig(`config-${name}`, { ...fed.configOf('val-a'), dataDir: `data-${name}`, ...changes })]

/** Every way `fedgate node start` must refuse to start: one error line, no stack trace, non-zero exit. */
const CASES: readonly FailureCase[] = [
  { name: 'an unknown config field', exit: 1, names: () => '$.lisen', args: async ({ fed }) => config(fed, 'unknown-field', { lisen: [] }) },
  { name: 'an invalid listen multiaddr', exit: 1, names: () => '$.listen[1]', args: async ({ fed }) => config(fed, 'bad-listen', { listen: ['/ip4/127.0.0.1/tcp/0', 'tcp/4001'] }) },
  { name: 'an admin address of the wrong type', exit: 1, names: () => '$.admin', args: async ({ fed }) => config(fed, 'bad-admin', { admin: 9474 }) },
  { name: 'a config without the key', exit: 1, names: () => '$.key', args: async ({ fed }) => config(fed, 'no-key-field', { key: undefined }) },
  { name: 'a missing config file', exit: 1, names: ({ dir }) => join(dir, 'absent.json'), args: async ({ dir }) => ['--config', join(dir, 'absent.json')] },
  { name: 'a missing key file', exit: 1, names: ({ dir }) => join(dir, 'absent.key'), args: async ({ fed }) => config(fed, 'absent-key', { key: 'absent.key' }) },
  { name: 'a missing credential file', exit: 1, names: ({ dir }) => join(dir, 'absent.credential.json'), args: async ({ fed }) => config(fed, 'absent-credential', { credential: 'absent.credential.json' }) },
  { name: 'a missing roster file', exit: 1, names: ({ dir }) => join(dir, 'absent-roster.json'), args: async ({ fed }) => config(fed, 'absent-roster', { roster: 'absent-roster.json' }) },
  {
    name: 'a world-readable key file',
    exit: 1,
    names: ({ dir }) => `chmod 600 ${join(dir, 'open.key')}`,
    args: async ({ dir, fed }) => {
      await copyFile(fed.member('val-a').keyFile, join(dir, 'open.key'))
      await chmod(join(dir, 'open.key'), 0o644)
      return await config(fed, 'open-key', { key: 'open.key' })
    }
  },
  { name: 'an own credential issued for another node', exit: 1, names: () => 'peer-mismatch', args: async ({ fed }) => config(fed, 'other-credential', { credential: 'val-b.credential.json' }) },
  { name: 'a listen port already in use', exit: 1, names: ({ port }) => `/ip4/127.0.0.1/tcp/${port}`, args: async ({ fed, port }) => config(fed, 'listen-in-use', { listen: [`/ip4/127.0.0.1/tcp/${port}`] }) },
  { name: 'an admin port already in use', exit: 1, names: ({ port }) => `127.0.0.1:${port}`, args: async ({ fed, port }) => config(fed, 'admin-in-use', { admin: `127.0.0.1:${port}` }) },
  { name: 'flags without --config that miss one', exit: 2, names: () => '--credential', args: async ({ dir }) => ['--key', join(dir, 'val-a.key'), '--roster', join(dir, 'roster.json')] },
  { name: 'a malformed --admin flag', exit: 2, names: () => '--admin localhost', args: async ({ fed }) => [...await config(fed, 'flag-admin', {}), '--admin', 'localhost'] }
]

describe('fedgate node start refuses to start, with one clear line', { timeout: 120_000 }, () => {
  let dir: string
  let fed: Federation
  let occupied: Server
  let port: number
  const runs = new Map<string, Awaited<ReturnType<typeof fedgate>>>()

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-daemon-errors-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'] }, { id: 'val-b', roles: ['validator'] }])
    occupied = createServer()
    await new Promise<void>(resolve => occupied.listen(0, '127.0.0.1', resolve))
    const address = occupied.address()
    assert.ok(address !== null && typeof address === 'object')
    port = address.port
    // The cases are independent processes: run them side by side, a few at a time so that a busy
    // machine does not starve them all at once.
    const queue = [...CASES]
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) runs.set(c.name, await fedgate('node', 'start', ...await c.args({ dir, port, fed })))
    }))
  }, { timeout: 90_000 })

  after(async () => {
    await new Promise(resolve => occupied.close(resolve))
    await rm(dir, { recursive: true, force: true })
  })

  for (const c of CASES) {
    it(`${c.name}: exit ${c.exit} and one line naming what is wrong`, () => {
      const run = runs.get(c.name)
      assert.ok(run !== undefined)
      const line = assertFails(run, c.exit)
      assert.ok(line.includes(c.names({ dir, port })), `expected ${c.names({ dir, port })} in: ${line}`)
      assert.equal(run.stdout, '')
    })
  }
})

describe('node status and roster publish without a running node', { timeout: 30_000 }, () => {
  let dir: string
  let closedPort: number

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-daemon-unreachable-'))
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer()
    await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve))
    const address = probe.address()
    assert.ok(address !== null && typeof address === 'object')
    closedPort = address.port
    await new Promise(resolve => probe.close(resolve))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('node status: exit 1 and one line naming the unreachable admin endpoint', async () => {
    const line = assertFails(await fedgate('node', 'status', '--admin', `127.0.0.1:${closedPort}`), 1)
    assert.ok(line.includes(`127.0.0.1:${closedPort}`))
  })

  it('roster publish: exit 1 for an unreachable node, and for a missing roster file', async () => {
    const fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'] }])
    const unreachable = assertFails(await fedgate('roster', 'publish', fed.rosterFile, '--admin', `127.0.0.1:${closedPort}`), 1)
    assert.ok(unreachable.includes(`127.0.0.1:${closedPort}`))
    const missing = assertFails(await fedgate('roster', 'publish', join(dir, 'absent.json'), '--admin', `127.0.0.1:${closedPort}`), 1)
    assert.ok(missing.includes(join(dir, 'absent.json')))
  })

  it('a malformed --admin is a usage error (exit 2)', async () => {
    assertFails(await fedgate('node', 'status', '--admin', 'localhost'), 2)
  })
})
