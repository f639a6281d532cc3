import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allowProtocol, revoke, type Roster } from '../../membership/index.ts'
import { ADMIN_ADDR_FILE, type PublishDocument } from '../../node/daemon/index.ts'
import { assertFails } from '../cli/run.ts'
import { Federation, fedgate, FedgateProcess, HOUR_MS } from './federation.ts'

/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m

interface AuditEvent {
  readonly event: string
  readonly reason?: string
  readonly epoch?: number
}

/**
 * One node, started again and again on the same data directory, while its roster file lags behind
 * or runs ahead of the epoch it accepted: what the operator sees at each start.
 */
describe('fedgate node start: the roster file against the epochs in the data directory', { timeout: 120_000 }, () => {
  let dir: string
  let fed: Federation
  let configFile: string
  let epoch1: Roster
  let epoch2: Roster
  const spawned: FedgateProcess[] = []
  const dataDir = (): string => join(dir, 'data-val-a')
  const auditLog = (): string => join(dir, 'val-a.audit.log')

  const start = async (): Promise<{ process: FedgateProcess, admin: string }> => {
    const process = new FedgateProcess(['node', 'start', '--config', configFile])
    spawned.push(process)
    await process.waitForStderr(STARTED)
    return { process, admin: (await readFile(join(dataDir(), ADMIN_ADDR_FILE), 'utf8')).trim() }
  }
  const auditEvents = async (): Promise<AuditEvent[]> =>
    (await readFile(auditLog(), 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as AuditEvent)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-roster-file-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS }])
    configFile = await fed.writeConfig('val-a', fed.configOf('val-a'))
    epoch1 = fed.roster
    epoch2 = fed.nextEpoch(r => allowProtocol(r, '/chain/bridge/1.0.0', ['validator']))
  })

  after(async () => {
    await Promise.all(spawned.map(async p => p.stop('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
  })

  it('roster publish applies an epoch, stores it and rewrites the roster file to it; publishing it again says it was in force', async () => {
    const { process, admin } = await start()
    assert.ok(!process.stderr.includes('warning:'), process.stderr)
    await fed.writeRoster(epoch2, join(dir, 'epoch-2.json'))
    const published = await fedgate('roster', 'publish', join(dir, 'epoch-2.json'), '--admin', admin)
    assert.equal(published.code, 0, published.stderr)
    assert.match(published.stdout, /epoch 2 accepted by the node/)
    assert.equal(await readFile(fed.rosterFile, 'utf8'), epoch2.encode(), 'the node\'s roster file now holds epoch 2')
    assert.ok((await auditEvents()).some(e => e.event === 'roster-file-updated' && e.epoch === 2))

    const again = await fedgate('roster', 'publish', join(dir, 'epoch-2.json'), '--admin', admin)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /epoch 2 was already in force on the node/)
    const againJson = await fedgate('roster', 'publish', join(dir, 'epoch-2.json'), '--admin', admin, '--json')
    assert.deepEqual(JSON.parse(againJson.stdout) as PublishDocument, { accepted: true, epoch: 2, alreadyInForce: true })
    assert.equal(await process.stop(), 0)
  })

  it('a restart after the publish runs epoch 2 without a warning: the file and the data directory agree', async () => {
    const { process } = await start()
    assert.match(process.stderr, /roster epoch 2$/m)
    assert.ok(!process.stderr.includes('warning:'), process.stderr)
    assert.equal(await process.stop(), 0)
  })

  it('a restart with an older roster file put back runs the stored epoch, says the file was refused as roster-stale, and rewrites it', async () => {
    await fed.writeRoster(epoch1)
    const { process } = await start()
    assert.match(process.stderr, /roster epoch 2$/m)
    const warning = `warning: roster file ${fed.rosterFile} refused: roster-stale; running accepted epoch 2`
    assert.ok(process.stderr.includes(warning), `expected "${warning}" in:\n${process.stderr}`)
    assert.ok((await auditEvents()).some(e => e.event === 'roster-refused' && e.reason === 'roster-stale'))
    assert.equal(await readFile(fed.rosterFile, 'utf8'), epoch2.encode())
    assert.equal(await process.stop(), 0)
  })

  it('a restart with an under-signed newer roster file: threshold-not-met, and the stored epoch runs', async () => {
    await fed.writeRoster(fed.nextEpoch(r => revoke(r, { member: 'val-a' }), 1, epoch2))
    const { process } = await start()
    assert.match(process.stderr, /roster epoch 2$/m)
    assert.match(process.stderr, new RegExp(`^warning: roster file ${fed.rosterFile.replaceAll('.', '\\.')} refused: threshold-not-met; running accepted epoch 2`, 'm'))
    assert.equal(await process.stop(), 0)
  })

  it('the same roster file with no epoch accepted earlier: no start, one line naming the file and the code once', async () => {
    const fresh = await fed.writeConfig('val-a-fresh', fed.configOf('val-a', { dataDir: 'data-fresh' }))
    const run = await fedgate('node', 'start', '--config', fresh)
    const line = assertFails(run, 1)
    assert.ok(line.includes(fed.rosterFile), line)
    assert.equal(line.split('threshold-not-met').length - 1, 1, `the reason code appears once: ${line}`)
  })
})
