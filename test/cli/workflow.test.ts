import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateNodeKey, type CredentialDocument, type RosterDiff, type RosterDocument } from '../../node/index.ts'
import type { CredentialReport, KeygenResult, RosterVerdict } from '../../node/cli/index.ts'
import { assertFails, assertOk, fedgate, json } from './run.ts'

const HOUR_MS = 3_600_000
const CONSENSUS = '/chain/consensus/1.0.0'
const MEMBERS = [
  { id: 'val-1', roles: 'validator', addrs: ['/ip4/10.0.0.1/tcp/4001', '/dns4/val-1.example/tcp/4001'] },
  { id: 'val-2', roles: 'validator', addrs: ['/ip4/10.0.0.2/tcp/4001'] },
  { id: 'rel-3', roles: 'relayer', addrs: [] },
  { id: 'light-4', roles: 'light-client', addrs: [] }
] as const

describe('fedgate CLI: a federation from genesis to a revocation', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const readRoster = async (name = 'roster.json'): Promise<RosterDocument> => JSON.parse(await readFile(file(name), 'utf8')) as RosterDocument
  const admins: KeygenResult[] = []
  const members: KeygenResult[] = []
  let node: KeygenResult
  let otherPeer: string
  let nodeCredential: CredentialReport

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-cli-'))
    otherPeer = (await generateNodeKey()).peerId
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keygen creates three admin and four member keys, each private to its owner (0600)', async () => {
    const runs = await Promise.all([
      ...[1, 2, 3].map(i => fedgate('keygen', 'admin', '--out', file(`admin-${i}.key`), '--json')),
      ...[1, 2, 3, 4].map(i => fedgate('keygen', 'member', '--out', file(`member-${i}.key`), '--json'))
    ])
    for (const run of runs) assertOk(run)
    const results = runs.map(r => json<KeygenResult>(r))
    admins.push(...results.slice(0, 3))
    members.push(...results.slice(3))
    for (const key of results) {
      assert.match(key.publicKey, /^0[23][0-9a-f]{64}$/)
      assert.equal(key.peerId, undefined)
      assert.equal((await stat(key.file)).mode & 0o777, 0o600)
    }
    assert.deepEqual(results.map(k => k.kind), ['admin', 'admin', 'admin', 'member', 'member', 'member', 'member'])
    assert.equal(new Set(results.map(k => k.publicKey)).size, 7)
  })

  it('roster init writes an unsigned 2-of-3 genesis; --admin takes key files and hex keys', async () => {
    const [a1, a2, a3] = admins
    assert.ok(a1 !== undefined && a2 !== undefined && a3 !== undefined)
    assertOk(await fedgate('roster', 'init', '--federation', 'cli-fed', '--admin', a1.file, a2.file, '--admin', a3.publicKey,
      '--threshold', '2', '--out', file('roster.json')))
    const doc = await readRoster()
    assert.equal(doc.federation, 'cli-fed')
    assert.equal(doc.epoch, 1)
    assert.deepEqual(doc.admins, { threshold: 2, keys: [a1.publicKey, a2.publicKey, a3.publicKey] })
    assert.deepEqual(doc.signatures, [])
    assert.deepEqual(doc.members, [])
  })

  it('roster add-member adds four members with roles, keys and addresses; allow opens a protocol', async () => {
    for (const [i, m] of MEMBERS.entries()) {
      const key = members[i]
      assert.ok(key !== undefined)
      // Half the members are given by key file, half by hex public key.
      const keyArg = i % 2 === 0 ? key.file : key.publicKey
      const run = await fedgate('roster', 'add-member', file('roster.json'), '--id', m.id, '--roles', m.roles, '--key', keyArg,
        '--org', `org-${i}`, ...m.addrs.flatMap(a => ['--addr', a]), ...(i === 0 ? ['--max-connections', '3'] : []))
      assertOk(run)
      assert.match(run.stdout, new RegExp(`epoch 1 \\(unsigned\\), added member ${m.id}`))
    }
    assertOk(await fedgate('roster', 'allow', file('roster.json'), '--protocol', CONSENSUS, '--roles', 'validator'))
    const doc = await readRoster()
    assert.equal(doc.epoch, 1)
    assert.deepEqual(doc.members.map(m => [m.id, m.roles, m.key, m.addrs ?? []]),
      MEMBERS.map((m, i) => [m.id, [m.roles], members[i]?.publicKey, m.addrs]))
    assert.equal(doc.members[0]?.maxConnections, 3)
    assert.deepEqual((doc.policy.protocols as Record<string, string[]>)[CONSENSUS], ['validator'])
  })

  it('roster verify refuses one signature of two (threshold-not-met) and accepts two', async () => {
    const sign1 = await fedgate('roster', 'sign', file('roster.json'), '--key', file('admin-1.key'))
    assertOk(sign1)
    assert.match(sign1.stdout, /1 of 2 required signatures/)
    const underSigned = await fedgate('roster', 'verify', file('roster.json'), '--json')
    assertFails(underSigned, 1)
    const refused = json<RosterVerdict>(underSigned)
    assert.equal(refused.ok, false)
    assert.equal(refused.code, 'threshold-not-met')
    assert.equal(refused.signatures, 1)
    assert.equal(refused.threshold, 2)

    assertOk(await fedgate('roster', 'sign', file('roster.json'), '--key', file('admin-2.key')))
    const verified = await fedgate('roster', 'verify', file('roster.json'), '--json')
    assertOk(verified)
    const verdict = json<RosterVerdict>(verified)
    assert.deepEqual([verdict.ok, verdict.epoch, verdict.federation, verdict.signatures, verdict.code], [true, 1, 'cli-fed', 2, undefined])
    assert.match(verdict.fingerprint, /^[0-9a-f]{64}$/)
  })

  it('credential issue binds a node key file, or a bare PeerId, to a member', async () => {
    const keygen = await fedgate('keygen', 'node', '--out', file('node.key'), '--json')
    assertOk(keygen)
    node = json<KeygenResult>(keygen)
    assert.equal(node.type, 'Ed25519')
    assert.match(node.peerId ?? '', /^12D3KooW/)
    assert.match(node.publicKey, /^080112[0-9a-f]{66}$/)

    const [byKey, byPeer] = await Promise.all([
      fedgate('credential', 'issue', '--member-key', file('member-1.key'), '--member', 'val-1', '--node-key', file('node.key'),
        '--roster', file('roster.json'), '--out', file('val-1.cred.json'), '--json'),
      fedgate('credential', 'issue', '--member-key', file('member-3.key'), '--member', 'rel-3', '--peer', otherPeer,
        '--roles', 'relayer', '--ttl', '1h', '--roster', file('roster.json'), '--out', file('rel-3.cred.json'), '--json')
    ])
    assertOk(byKey)
    assertOk(byPeer)
    nodeCredential = json<CredentialReport>(byKey)
    assert.deepEqual([nodeCredential.federation, nodeCredential.memberId, nodeCredential.peer, nodeCredential.roles],
      ['cli-fed', 'val-1', node.peerId, ['validator']])
    const onDisk = JSON.parse(await readFile(file('val-1.cred.json'), 'utf8')) as CredentialDocument
    assert.equal(onDisk.signature, nodeCredential.signature)
    assert.equal((await stat(file('val-1.cred.json'))).mode & 0o777, 0o644)

    const relayer = JSON.parse(await readFile(file('rel-3.cred.json'), 'utf8')) as CredentialDocument
    assert.equal(relayer.peer, otherPeer)
    assert.equal(Date.parse(relayer.notAfter) - Date.parse(relayer.notBefore), HOUR_MS)
  })

  it('credential inspect gives verdict ok for its own peer, peer-mismatch for another', async () => {
    const [ok, mismatch] = await Promise.all([
      fedgate('credential', 'inspect', file('val-1.cred.json'), '--roster', file('roster.json'), '--json'),
      fedgate('credential', 'inspect', file('val-1.cred.json'), '--roster', file('roster.json'), '--peer', otherPeer, '--json')
    ])
    assertOk(ok)
    const report = json<CredentialReport>(ok)
    assert.equal(report.verdict, 'ok')
    assert.equal(report.fingerprint, nodeCredential.fingerprint)
    assert.equal(report.fix, undefined)
    assertFails(mismatch, 1)
    assert.equal(json<CredentialReport>(mismatch).verdict, 'peer-mismatch')
  })

  it('roster revoke starts the next epoch unsigned; two admins of epoch 1 sign it; verify --previous accepts it', async () => {
    await copyFile(file('roster.json'), file('roster-1.json'))
    const revoked = await fedgate('roster', 'revoke', file('roster.json'), '--member', 'val-1')
    assertOk(revoked)
    assert.match(revoked.stdout, /epoch 2 \(unsigned\), revoked member val-1/)
    const doc = await readRoster()
    assert.deepEqual([doc.epoch, doc.signatures, doc.revoked], [2, [], [{ member: 'val-1' }]])

    assertOk(await fedgate('roster', 'sign', file('roster.json'), '--key', file('admin-2.key'), '--previous', file('roster-1.json')))
    const second = await fedgate('roster', 'sign', file('roster.json'), '--key', file('admin-3.key'), '--previous', file('roster-1.json'))
    assertOk(second)
    assert.match(second.stdout, /2 of 2 required signatures by the admins of epoch 1, 2 of 3 \(threshold met\)/)
    assert.match(second.stdout, /^revoked +member val-1$/m)
    const verified = await fedgate('roster', 'verify', file('roster.json'), '--previous', file('roster-1.json'), '--json')
    assertOk(verified)
    assert.deepEqual([json<RosterVerdict>(verified).ok, json<RosterVerdict>(verified).epoch], [true, 2])
  })

  it('roster diff lists the revocation and the member it drops', async () => {
    const [asJson, human] = await Promise.all([
      fedgate('roster', 'diff', file('roster-1.json'), file('roster.json'), '--json'),
      fedgate('roster', 'diff', file('roster-1.json'), file('roster.json'))
    ])
    assertOk(asJson)
    const diff = json<RosterDiff>(asJson)
    assert.deepEqual([diff.fromEpoch, diff.toEpoch], [1, 2])
    assert.deepEqual(diff.revoked, [{ member: 'val-1' }])
    assert.deepEqual(diff.drops, ['val-1'])
    assert.deepEqual([diff.added, diff.removed, diff.changed], [[], [], []])
    assertOk(human)
    assert.match(human.stdout, /^revoked +member val-1$/m)
    assert.match(human.stdout, /^drops +val-1$/m)
  })

  it('credential inspect under the new epoch: the revoked member\'s credential is revoked, the others\' still ok', async () => {
    const [revoked, other] = await Promise.all([
      fedgate('credential', 'inspect', file('val-1.cred.json'), '--roster', file('roster.json'), '--json'),
      fedgate('credential', 'inspect', file('rel-3.cred.json'), '--roster', file('roster.json'), '--json')
    ])
    const line = assertFails(revoked, 1)
    assert.ok(line.includes(file('val-1.cred.json')))
    const report = json<CredentialReport>(revoked)
    assert.equal(report.verdict, 'revoked')
    assert.equal(typeof report.fix, 'string')
    assertOk(other)
    assert.equal(json<CredentialReport>(other).verdict, 'ok')
  })
})
