import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allowProtocol, revoke, signRoster, type Roster } from '../../membership/index.ts'
import { createFederationBuilder, writeRosterFile } from '../../node/builder/index.ts'
import { ADMIN_ADDR_FILE, type StatusDocument } from '../../node/daemon/index.ts'
import type { NodeResetReport } from '../../node/cli/node-reset.ts'
import { assertFails } from '../cli/run.ts'
import { eventually, Federation, fedgate, FedgateProcess } from './federation.ts'

/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m

interface AuditEvent {
  readonly event: string
  readonly epoch?: number
  readonly source?: string
}

/**
 * What a start leaves in the data directory, and how the operator's roster file follows the epochs
 * a node accepts from elsewhere: a failed start stores nothing, an accepted epoch rewrites the file.
 */
describe('fedgate node start: checks before storing; the roster file follows accepted epochs', { timeout: 240_000 }, () => {
  let dir: string
  let fed: Federation
  const spawned: FedgateProcess[] = []
  const rosterOf = (id: string): string => join(dir, `roster-${id}.json`)
  const dataDir = (id: string): string => join(dir, `data-${id}`)
  const configFor = async (id: string, extra: Record<string, unknown> = {}): Promise<string> =>
    await fed.writeConfig(id, fed.configOf(id, { roster: rosterOf(id), ...extra }))
  const start = async (id: string): Promise<{ process: FedgateProcess, admin: string }> => {
    const process = new FedgateProcess(['node', 'start', '--config', join(dir, `${id}.json`)])
    spawned.push(process)
    await process.waitForStderr(STARTED)
    return { process, admin: (await readFile(join(dataDir(id), ADMIN_ADDR_FILE), 'utf8')).trim() }
  }
  const storedEpochs = async (id: string): Promise<string[]> => await readdir(join(dataDir(id), 'epochs')).catch(() => [])
  const status = async (admin: string): Promise<StatusDocument> => await (await fetch(`http://${admin}/status`)).json() as StatusDocument
  const auditEvents = async (id: string): Promise<AuditEvent[]> =>
    (await readFile(join(dir, `${id}.audit.log`), 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as AuditEvent)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-start-checks-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'] }, { id: 'val-b', roles: ['validator'] }])
    for (const id of ['val-a', 'val-b']) await writeRosterFile(rosterOf(id), fed.roster)
  })

  after(async () => {
    await Promise.all(spawned.map(async p => p.stop('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
  })

  it('a start refused for another federation\'s roster stores nothing; the right roster then starts at once', async () => {
    const other = createFederationBuilder({ federation: 'other-fed', members: [{ id: 'val-a', roles: ['validator'] }] })
    await writeRosterFile(join(dir, 'other-roster.json'), other.roster)
    await configFor('val-a', { roster: join(dir, 'other-roster.json') })
    const line = assertFails(await fedgate('node', 'start', '--config', join(dir, 'val-a.json')), 1)
    assert.match(line, /federation-mismatch/)
    assert.deepEqual(await storedEpochs('val-a'), [])

    await configFor('val-a', { key: join(dir, 'absent.key') })
    assertFails(await fedgate('node', 'start', '--config', join(dir, 'val-a.json')), 1)
    assert.deepEqual(await storedEpochs('val-a'), [])

    await configFor('val-a')
    const { process } = await start('val-a')
    assert.match(process.stderr, /roster epoch 1$/m)
    assert.equal((await storedEpochs('val-a')).length, 1)
    assert.equal(await process.stop(), 0)
  })

  it('a roster file of another federation than the data directory holds: no start, and the error names the data directory', async () => {
    await configFor('val-a', { roster: join(dir, 'other-roster.json') })
    const line = assertFails(await fedgate('node', 'start', '--config', join(dir, 'val-a.json')), 1)
    assert.match(line, /federation-mismatch/)
    assert.ok(line.includes(`the data directory ${dataDir('val-a')} holds the epochs of "daemon-fed"`), line)
    assert.ok(line.includes(`fedgate node reset --data-dir ${dataDir('val-a')}`), line)
    await configFor('val-a')
  })

  it('an epoch published to one node reaches the other by roster sync, and both roster files are rewritten to it; restarts do not warn', async () => {
    await configFor('val-b', { dial: [] })
    const a = await start('val-a')
    const listen = (await readFile(join(dataDir('val-a'), 'listen.addrs'), 'utf8')).split('\n')[0] ?? ''
    await configFor('val-b', { dial: [listen] })
    const b = await start('val-b')
    await eventually(async () => (await status(a.admin)).peers.length === 1 ? true : undefined)

    const epoch2 = fed.nextEpoch(r => allowProtocol(r, '/chain/bridge/1.0.0', ['validator']))
    await writeRosterFile(join(dir, 'epoch-2.json'), epoch2)
    const published = await fedgate('roster', 'publish', join(dir, 'epoch-2.json'), '--admin', a.admin)
    assert.equal(published.code, 0, published.stderr)
    assert.equal(await readFile(rosterOf('val-a'), 'utf8'), epoch2.encode())
    await eventually(async () => await readFile(rosterOf('val-b'), 'utf8') === epoch2.encode() ? true : undefined)
    const synced = await eventually(async () => (await auditEvents('val-b')).find(e => e.event === 'roster-file-updated'))
    assert.equal(synced.epoch, 2)
    assert.match(synced.source ?? '', /^peer /)

    assert.equal(await b.process.stop(), 0)
    const again = await start('val-b')
    assert.match(again.process.stderr, /roster epoch 2$/m)
    assert.ok(!again.process.stderr.includes('warning:'), again.process.stderr)
    assert.equal(await again.process.stop(), 0)
    assert.equal(await a.process.stop(), 0)
  })

  it('a roster file holding a newer draft is the operator\'s: an accepted epoch does not overwrite it', async () => {
    const current: Roster = fed.nextEpoch(r => allowProtocol(r, '/chain/bridge/1.0.0', ['validator']))
    const epoch3 = fed.nextEpoch(r => revoke(r, { member: 'val-9' }), 2, current)
    const draft = signRoster(revoke(current, { member: 'val-8' }), fed.admins[0] ?? assert.fail('an admin'))
    await writeRosterFile(rosterOf('val-a'), draft)
    const { process, admin } = await start('val-a')
    assert.match(process.stderr, /threshold-not-met/)
    await mkdir(join(dir, 'publish'), { recursive: true })
    await writeRosterFile(join(dir, 'publish', 'epoch-3.json'), epoch3)
    const published = await fedgate('roster', 'publish', join(dir, 'publish', 'epoch-3.json'), '--admin', admin)
    assert.equal(published.code, 0, published.stderr)
    assert.equal((await status(admin)).rosterEpoch, 3)
    assert.equal(await readFile(rosterOf('val-a'), 'utf8'), draft.encode())
    assert.equal(await process.stop(), 0)
  })

  it('node reset refuses while the node runs, then sets the data directory aside; the next start pins the roster file', async () => {
    await writeRosterFile(rosterOf('val-a'), fed.roster)
    const { process } = await start('val-a')
    assert.match(process.stderr, /roster epoch 3$/m)
    assert.match(assertFails(await fedgate('node', 'reset', '--data-dir', dataDir('val-a')), 1), /is running/)
    assert.equal(await process.stop(), 0)

    const reset = await fedgate('node', 'reset', '--data-dir', dataDir('val-a'), '--json')
    assert.equal(reset.code, 0, reset.stderr)
    const { movedTo } = JSON.parse(reset.stdout) as NodeResetReport
    assert.equal((await readdir(join(movedTo, 'epochs'))).length, 3, 'the data directory set aside keeps every epoch')
    assert.deepEqual(await storedEpochs('val-a'), [])
    // The node rewrote its roster file to epoch 3 at the start above; the operator puts epoch 1 back.
    assert.equal(await readFile(rosterOf('val-a'), 'utf8'), (await readFile(join(movedTo, 'epochs', '0000000000000003.json'), 'utf8')))
    await writeRosterFile(rosterOf('val-a'), fed.roster)
    const fresh = await start('val-a')
    assert.match(fresh.process.stderr, /roster epoch 1$/m)
    assert.equal(await fresh.process.stop(), 0)
    assert.match(assertFails(await fedgate('node', 'reset', '--data-dir', join(dir, 'absent')), 1), /no such data directory/)
  })
})
