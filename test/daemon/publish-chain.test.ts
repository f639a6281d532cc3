import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allowProtocol, generateSigningKey, revoke, setAdmins, signRoster, type Roster } from '../../membership/index.ts'
import { ADMIN_ADDR_FILE, type PublishDocument, type StatusDocument } from '../../node/daemon/index.ts'
import type { PublishChainReport } from '../../node/cli/publish.ts'
import { assertFails } from '../cli/run.ts'
import { Federation, fedgate, FedgateProcess } from './federation.ts'

/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m

/**
 * A node on epoch 1 while the federation moved on: epoch 2 rotates the admins, epoch 3 is signed by
 * the new admins only. The node can follow only in order, and `roster publish` sends that order.
 */
describe('fedgate roster publish: a chain of epochs across an admin rotation', { timeout: 180_000 }, () => {
  let dir: string
  let fed: Federation
  let node: FedgateProcess
  let admin: string
  let epoch3: Roster
  const epochs = (): string => join(dir, 'epochs')
  const status = async (): Promise<StatusDocument> => await (await fetch(`http://${admin}/status`)).json() as StatusDocument

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-publish-chain-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'] }, { id: 'val-b', roles: ['validator'] }])
    const newAdmins = [generateSigningKey('admin'), generateSigningKey('admin')]
    const epoch2 = fed.nextEpoch(r => setAdmins(r, { threshold: 2, keys: newAdmins.map(a => a.publicKey) }))
    epoch3 = newAdmins.reduce((r, a) => signRoster(r, a), revoke(epoch2, { member: 'val-b' }))
    await mkdir(epochs())
    await fed.writeRoster(fed.roster, join(epochs(), 'epoch-1.json'))
    await fed.writeRoster(epoch2, join(epochs(), 'epoch-2.json'))
    await fed.writeRoster(epoch3, join(epochs(), 'epoch-3.json'))
    // A folder of epochs may hold other files: they are not rosters and are passed over.
    await writeFile(join(epochs(), 'notes.json'), '{"not": "a roster"}\n')
    node = new FedgateProcess(['node', 'start', '--config', await fed.writeConfig('val-a', fed.configOf('val-a'))])
    await node.waitForStderr(STARTED)
    admin = (await readFile(join(dir, 'data-val-a', ADMIN_ADDR_FILE), 'utf8')).trim()
  })

  after(async () => {
    await node.stop('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })

  it('epoch 3 alone is refused as threshold-not-met, and the fix names epoch 2 as the one to send first', async () => {
    const run = await fedgate('roster', 'publish', join(epochs(), 'epoch-3.json'), '--admin', admin, '--json')
    const line = assertFails(run, 1)
    assert.match(line, /threshold-not-met/)
    assert.match(line, /epoch 2 is missing here/)
    assert.match(line, /fix: the node runs epoch 1; if epoch 2 changed the admins, the node needs it first/)
    const answer = JSON.parse(run.stdout) as PublishDocument
    assert.ok(!answer.accepted && answer.nodeEpoch === 1)
    assert.equal((await status()).rosterEpoch, 1)
  })

  it('the folder is sent in epoch order from the first epoch the node lacks, and the node follows the rotation to epoch 3', async () => {
    const run = await fedgate('roster', 'publish', epochs(), '--admin', admin, '--json')
    assert.equal(run.code, 0, run.stderr)
    const report = JSON.parse(run.stdout) as PublishChainReport
    assert.equal(report.nodeEpoch, 1)
    assert.deepEqual(report.skipped.map(s => s.epoch), [1])
    assert.deepEqual(report.published.map(p => [p.epoch, p.accepted]), [[2, true], [3, true]])
    assert.equal((await status()).rosterEpoch, 3)

    const again = await fedgate('roster', 'publish', join(epochs(), 'epoch-2.json'), join(epochs(), 'epoch-3.json'), '--admin', admin)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /already runs epoch 3; nothing to send/)
  })

  it('two different rosters of one epoch, or a folder without rosters, are refused before anything is sent', async () => {
    const other = fed.nextEpoch(r => allowProtocol(r, '/chain/bridge/1.0.0', ['validator']))
    await fed.writeRoster(other, join(dir, 'other-2.json'))
    const line = assertFails(await fedgate('roster', 'publish', join(epochs(), 'epoch-2.json'), join(dir, 'other-2.json'), '--admin', admin), 1)
    assert.match(line, /two different rosters of epoch 2/)
    const empty = join(dir, 'empty')
    await mkdir(empty)
    assert.match(assertFails(await fedgate('roster', 'publish', empty, '--admin', admin), 1), /no roster files/)
  })
})
