import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RosterDiff, RosterDocument } from '../../membership/index.ts'
import type { KeygenResult, RosterEditReport, RosterShowReport, RosterSignReport, RosterVerdict } from '../../node/cli/index.ts'
import { assertFails, assertOk, fedgate, json } from './run.ts'

/** An admin rotation run through the CLI: new admins, signatures counted as nodes count them, offline copies merged. */
describe('fedgate roster: admin rotation, offline signing and policy edits', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const read = async (name: string): Promise<RosterDocument> => JSON.parse(await readFile(file(name), 'utf8')) as RosterDocument
  const admins: KeygenResult[] = []
  const members: KeygenResult[] = []
  const admin = (i: number): KeygenResult => {
    const key = admins[i - 1]
    assert.ok(key !== undefined)
    return key
  }
  const sign = async (name: string, i: number, ...extra: string[]): Promise<RosterSignReport> => {
    const run = await fedgate('roster', 'sign', file(name), '--key', admin(i).file, '--json', ...extra)
    assertOk(run)
    return json<RosterSignReport>(run)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-cli-governance-'))
    const runs = await Promise.all([
      ...[1, 2, 3, 4].map(i => fedgate('keygen', 'admin', '--out', file(`admin-${i}.key`), '--json')),
      ...[1, 2].map(i => fedgate('keygen', 'member', '--out', file(`member-${i}.key`), '--json'))
    ])
    for (const run of runs) assertOk(run)
    admins.push(...runs.slice(0, 4).map(r => json<KeygenResult>(r)))
    members.push(...runs.slice(4).map(r => json<KeygenResult>(r)))
    assertOk(await fedgate('roster', 'init', '--federation', 'gov-fed', '--admin', admin(1).file, admin(2).file, admin(3).file,
      '--threshold', '2', '--out', file('epoch-1.json')))
    assertOk(await fedgate('roster', 'add-member', file('epoch-1.json'), '--id', 'val-1', '--roles', 'validator', '--key', members[0]?.file ?? ''))
    await sign('epoch-1.json', 1)
    await sign('epoch-1.json', 2)
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('set-admins --out starts the next epoch unsigned with the new set, and leaves the signed epoch on disk', async () => {
    const before = await readFile(file('epoch-1.json'), 'utf8')
    const run = await fedgate('roster', 'set-admins', file('epoch-1.json'), '--admin', admin(2).file, admin(3).publicKey, admin(4).file,
      '--threshold', '2', '--out', file('epoch-2.json'), '--json')
    assertOk(run)
    const report = json<RosterEditReport>(run)
    assert.deepEqual([report.file, report.epoch, report.signed, report.signatures], [file('epoch-2.json'), 2, false, 0])
    assert.match(report.change, new RegExp(`added ${admin(4).publicKey}`))
    assert.match(report.change, new RegExp(`removed ${admin(1).publicKey}`))
    assert.equal(await readFile(file('epoch-1.json'), 'utf8'), before)
    const doc = await read('epoch-2.json')
    assert.deepEqual([doc.epoch, doc.signatures, doc.admins], [2, [], { threshold: 2, keys: [admin(2).publicKey, admin(3).publicKey, admin(4).publicKey] }])
    assert.deepEqual(doc.members, (await read('epoch-1.json')).members)
  })

  it('set-admins refuses a threshold above the keys given, and writes nothing', async () => {
    const line = assertFails(await fedgate('roster', 'set-admins', file('epoch-1.json'), '--admin', admin(2).file, '--threshold', '2', '--out', file('bad.json')), 2)
    assert.match(line, /threshold 2 is more than the 1 distinct admin key/)
    await assert.rejects(stat(file('bad.json')), { code: 'ENOENT' })
  })

  it('sign --previous counts the admins nodes on the previous epoch count, and shows the admin keys it changes', async () => {
    const unsigned = await fedgate('roster', 'show', file('epoch-2.json'), '--json')
    assertOk(unsigned)
    const contentHash = json<RosterShowReport>(unsigned).contentHash
    for (const name of ['copy-old-1.json', 'copy-old-2.json', 'copy-new.json']) await copyFile(file('epoch-2.json'), file(name))

    // The two new admins alone meet the new set's threshold, but nodes on epoch 1 count only admin 3.
    await sign('copy-new.json', 3, '--previous', file('epoch-1.json'))
    const byNew = await sign('copy-new.json', 4, '--previous', file('epoch-1.json'))
    assert.deepEqual([byNew.signatures, byNew.threshold, byNew.thresholdMet, byNew.decidedBy.epoch], [2, 2, false, 1])
    assert.deepEqual(byNew.decidedBy.keys, [admin(1).publicKey, admin(2).publicKey, admin(3).publicKey])
    assert.equal(byNew.contentHash, contentHash)
    const changes = byNew.changes
    assert.ok(changes !== null)
    assert.deepEqual([changes.adminsAdded, changes.adminsRemoved], [[admin(4).publicKey], [admin(1).publicKey]])
    const refused = await fedgate('roster', 'verify', file('copy-new.json'), '--previous', file('epoch-1.json'), '--json')
    assertFails(refused, 1)
    assert.equal(json<RosterVerdict>(refused).code, 'threshold-not-met')

    const human = await fedgate('roster', 'sign', file('copy-old-1.json'), '--key', admin(1).file, '--previous', file('epoch-1.json'))
    assertOk(human)
    assert.match(human.stdout, /1 of 2 required signatures by the admins of epoch 1, 2 of 3 \(needs 1 more\)/)
    assert.match(human.stdout, new RegExp(`^content hash +${contentHash} `, 'm'))
    assert.match(human.stdout, new RegExp(`^admin added +${admin(4).publicKey}$`, 'm'))
    assert.match(human.stdout, new RegExp(`^admin removed +${admin(1).publicKey}$`, 'm'))

    const outsider = await fedgate('roster', 'sign', file('copy-old-2.json'), '--key', admin(4).file, '--previous', file('epoch-1.json'))
    assertOk(outsider)
    assert.match(outsider.stdout, /not an admin of epoch 1, so nodes running it do not count this signature/)
  })

  it('sign --previous refuses a previous file that is not an earlier epoch of the federation', async () => {
    const line = assertFails(await fedgate('roster', 'sign', file('epoch-1.json'), '--key', admin(3).file, '--previous', file('epoch-2.json')), 1)
    assert.match(line, /epoch 2 is not before epoch 1/)
  })

  it('merge-signatures combines copies signed offline; the merged epoch follows epoch 1', async () => {
    await sign('copy-old-2.json', 2, '--previous', file('epoch-1.json'))
    const run = await fedgate('roster', 'merge-signatures', file('epoch-2.json'), file('copy-old-1.json'), file('copy-old-2.json'), file('copy-new.json'),
      '--previous', file('epoch-1.json'), '--json')
    assertOk(run)
    const merged = json<RosterSignReport>(run)
    assert.deepEqual([merged.epoch, merged.signatures, merged.thresholdMet], [2, 4, true])
    const doc = await read('epoch-2.json')
    assert.deepEqual(doc.signatures.map(s => s.key).sort(), [1, 4, 2, 3].map(i => admin(i).publicKey).sort())
    assertOk(await fedgate('roster', 'verify', file('epoch-2.json'), '--previous', file('epoch-1.json')))
  })

  it('merge-signatures refuses a copy whose content differs, naming the difference, and a forged signature', async () => {
    await copyFile(file('epoch-1.json'), file('other-1.json'))
    assertOk(await fedgate('roster', 'set-admins', file('other-1.json'), '--admin', admin(2).file, admin(3).file, admin(4).file, '--threshold', '2'))
    assertOk(await fedgate('roster', 'update-member', file('other-1.json'), '--id', 'val-1', '--max-connections', '2'))
    await sign('other-1.json', 3)
    const line = assertFails(await fedgate('roster', 'merge-signatures', file('out.json'), file('copy-old-1.json'), file('other-1.json')), 1)
    assert.ok(line.includes(file('other-1.json')))
    assert.match(line, /not the same epoch content/)
    assert.match(line, /changed val-1: maxConnections \(none\) -> 2/)
    await assert.rejects(stat(file('out.json')), { code: 'ENOENT' })

    const forged = await read('copy-old-1.json')
    const sig = forged.signatures[0]
    assert.ok(sig !== undefined)
    await writeFile(file('forged.json'), JSON.stringify({ ...forged, signatures: [{ key: sig.key, sig: sig.sig.replace(/^./, c => c === '0' ? '1' : '0') }] }))
    const bad = assertFails(await fedgate('roster', 'merge-signatures', file('out.json'), file('copy-old-2.json'), file('forged.json')), 1)
    assert.match(bad, new RegExp(`signature by ${sig.key} does not verify`))
  })

  it('diff lists the admin keys added and removed', async () => {
    const [human, asJson] = await Promise.all([
      fedgate('roster', 'diff', file('epoch-1.json'), file('epoch-2.json')),
      fedgate('roster', 'diff', file('epoch-1.json'), file('epoch-2.json'), '--json')
    ])
    assertOk(human)
    assert.match(human.stdout, /^admins +2 of 3 -> 2 of 3$/m)
    assert.match(human.stdout, new RegExp(`^admin added +${admin(4).publicKey}$`, 'm'))
    assert.match(human.stdout, new RegExp(`^admin removed +${admin(1).publicKey}$`, 'm'))
    assertOk(asJson)
    const diff = json<RosterDiff>(asJson)
    assert.deepEqual([diff.adminsAdded, diff.adminsRemoved], [[admin(4).publicKey], [admin(1).publicKey]])
  })

  it('show prints a readable summary, and --json the same facts', async () => {
    const [human, asJson] = await Promise.all([fedgate('roster', 'show', file('epoch-2.json')), fedgate('roster', 'show', file('epoch-2.json'), '--json')])
    assertOk(asJson)
    const doc = json<RosterShowReport>(asJson)
    assert.deepEqual([doc.federation, doc.epoch, doc.admins.threshold, doc.admins.keys.length, doc.members.map(m => m.id)], ['gov-fed', 2, 2, 3, ['val-1']])
    assert.match(doc.fingerprint, /^[0-9a-f]{64}$/)
    assert.match(doc.adminSetFingerprint, /^[0-9a-f]{64}$/)
    assert.deepEqual(doc.signatures.filter(s => !s.ownAdmin).map(s => s.key), [admin(1).publicKey])
    assert.equal(doc.limits.maxConnectionsPerMember, 8)
    assertOk(human)
    assert.match(human.stdout, /^federation +gov-fed$/m)
    assert.match(human.stdout, new RegExp(`^fingerprint +${doc.fingerprint}$`, 'm'))
    assert.match(human.stdout, new RegExp(`^admin set +2 of 3, fingerprint ${doc.adminSetFingerprint}$`, 'm'))
    assert.match(human.stdout, new RegExp(`${admin(1).publicKey} +signed, not in this admin set`))
    assert.match(human.stdout, /^val-1 +- +validator /m)
  })
})
