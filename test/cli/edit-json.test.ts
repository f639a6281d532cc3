import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RosterDocument } from '../../membership/index.ts'
import type { KeygenResult, RosterEditReport } from '../../node/cli/index.ts'
import { assertOk, fedgate, json } from './run.ts'

/** Every roster edit with `--json`: one document saying what the file now holds and what changed. */
describe('fedgate roster edits with --json', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const readRoster = async (): Promise<RosterDocument> => JSON.parse(await readFile(file('roster.json'), 'utf8')) as RosterDocument
  let member: KeygenResult

  /** Runs an edit with --json, checks the document against the file, and returns it. */
  const edit = async (...args: string[]): Promise<RosterEditReport> => {
    const run = await fedgate(...args, '--json')
    assertOk(run)
    const report = json<RosterEditReport>(run)
    const doc = await readRoster()
    assert.equal(report.file, file('roster.json'))
    assert.deepEqual([report.federation, report.epoch, report.signatures, report.signed, report.threshold],
      [doc.federation, doc.epoch, doc.signatures.length, doc.signatures.length > 0, doc.admins.threshold])
    assert.equal(typeof report.change, 'string')
    return report
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-cli-edit-json-'))
    for (const i of [1, 2]) assertOk(await fedgate('keygen', 'admin', '--out', file(`admin-${i}.key`)))
    const keygen = await fedgate('keygen', 'member', '--out', file('member.key'), '--json')
    assertOk(keygen)
    member = json<KeygenResult>(keygen)
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('init, add-member and allow report an unsigned epoch 1', async () => {
    const init = await edit('roster', 'init', '--federation', 'json-fed', '--admin', file('admin-1.key'), file('admin-2.key'), '--threshold', '2', '--out', file('roster.json'))
    assert.deepEqual([init.epoch, init.signed, init.thresholdMet, init.threshold], [1, false, false, 2])
    const added = await edit('roster', 'add-member', file('roster.json'), '--id', 'val-1', '--roles', 'validator', '--key', member.file)
    assert.equal(added.epoch, 1)
    assert.match(added.change, /val-1/)
    const allowed = await edit('roster', 'allow', file('roster.json'), '--protocol', '/chain/consensus/1.0.0', '--roles', 'validator')
    assert.match(allowed.change, /\/chain\/consensus\/1\.0\.0/)
  })

  it('allow --preset writes the preset\'s entries, and warns when the service\'s dependency (identify) stays denied', async () => {
    const run = await fedgate('roster', 'allow', file('roster.json'), '--preset', 'gossipsub', '--roles', 'validator')
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /preset gossipsub: \/meshsub\/\*, \/floodsub\/\* allowed for validator/)
    assert.match(run.stderr, /warning: \/meshsub\/\* is allowed to validator but \/ipfs\/id\/1\.0\.0, which it depends on, is not/)
    assert.ok(run.stderr.includes(`fedgate roster allow ${file('roster.json')} --preset identify --roles validator`))
    const identify = await edit('roster', 'allow', file('roster.json'), '--preset', 'identify', '--roles', 'validator')
    assert.match(identify.change, /\/ipfs\/id\/\*, \/ipfs\/id\/push\/\*/)
    const doc = await readRoster()
    for (const key of ['/meshsub/*', '/floodsub/*', '/ipfs/id/*', '/ipfs/id/push/*']) assert.deepEqual(doc.policy.protocols?.[key as never], ['validator'], key)
    // With identify allowed, a further gossipsub edit has nothing to warn about.
    const again = await fedgate('roster', 'allow', file('roster.json'), '--preset', 'gossipsub', '--roles', 'validator')
    assertOk(again)
  })

  it('sign reports the signatures and whether the threshold is met', async () => {
    const first = await edit('roster', 'sign', file('roster.json'), '--key', file('admin-1.key'))
    assert.deepEqual([first.signed, first.signatures, first.thresholdMet], [true, 1, false])
    const second = await edit('roster', 'sign', file('roster.json'), '--key', file('admin-2.key'))
    assert.deepEqual([second.signed, second.signatures, second.thresholdMet], [true, 2, true])
  })

  it('revoke of a signed epoch reports the next, unsigned epoch; --force revokes an id the roster does not list', async () => {
    const revoked = await edit('roster', 'revoke', file('roster.json'), '--member', 'val-9', '--force')
    assert.deepEqual([revoked.epoch, revoked.signed, revoked.signatures, revoked.thresholdMet], [2, false, 0, false])
    assert.deepEqual((await readRoster()).revoked, [{ member: 'val-9' }])
  })

  it('remove-member reports the change', async () => {
    const removed = await edit('roster', 'remove-member', file('roster.json'), '--id', 'val-1')
    assert.equal(removed.epoch, 2)
    assert.deepEqual((await readRoster()).members, [])
  })
})
