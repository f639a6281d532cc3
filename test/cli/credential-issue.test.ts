import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addMember, generateSigningKey, initRoster, revoke } from '../../membership/index.ts'
import { generateNodeKey, writeKeyFile, type NodeKey } from '../../node/index.ts'
import { assertFails, assertOk, fedgate, json } from './run.ts'

const HOUR_MS = 3_600_000

describe('fedgate credential issue: refusals a node would make, --force and --not-before', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  let revokedNode: NodeKey
  const issue = async (member: string, keyFile: string, ...extra: string[]): ReturnType<typeof fedgate> =>
    await fedgate('credential', 'issue', '--member-key', file(keyFile), '--member', member, '--node-key', file('node.key'),
      '--roster', file('roster.json'), '--out', file(`${member}.json`), ...extra)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-issue-'))
    const keys = { active: generateSigningKey('member'), gone: generateSigningKey('member'), future: generateSigningKey('member') }
    revokedNode = await generateNodeKey()
    let roster = initRoster({ federation: 'issue-fed', admins: [generateSigningKey('admin').publicKey], threshold: 1 })
    roster = addMember(roster, { id: 'active', roles: ['validator'], key: keys.active.publicKey })
    roster = addMember(roster, { id: 'gone', roles: ['validator'], key: keys.gone.publicKey })
    roster = revoke(revoke(roster, { member: 'gone' }), { peer: revokedNode.peerId })
    await writeFile(file('roster.json'), roster.encode())
    for (const [name, key] of Object.entries(keys)) await writeKeyFile(file(`${name}.key`), key)
    await writeKeyFile(file('node.key'), await generateNodeKey())
    await writeKeyFile(file('revoked-node.key'), revokedNode)
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('control: a listed, unrevoked member gets its credential', async () => {
    assertOk(await issue('active', 'active.key'))
  })

  it('refuses a member the roster does not list, then issues it with --force and explicit roles', async () => {
    const line = assertFails(await issue('future', 'future.key'), 1)
    assert.match(line, /no member "future"/)
    assert.match(line, /unknown-member/)
    assert.match(line, /--force/)
    await assert.rejects(stat(file('future.json')), { code: 'ENOENT' })
    assert.match(assertFails(await issue('future', 'future.key', '--force'), 1), /give them with --roles/)
    const run = await issue('future', 'future.key', '--force', '--roles', 'validator', '--json')
    assertOk(run)
    assert.deepEqual(json<{ roles: string[] }>(run).roles, ['validator'])
  })

  it('refuses a revoked member and a revoked node unless --force', async () => {
    const line = assertFails(await issue('gone', 'gone.key'), 1)
    assert.match(line, /member gone is revoked/)
    await assert.rejects(stat(file('gone.json')), { code: 'ENOENT' })
    assertOk(await issue('gone', 'gone.key', '--force'))
    const node = assertFails(await fedgate('credential', 'issue', '--member-key', file('active.key'), '--member', 'active', '--node-key', file('revoked-node.key'),
      '--roster', file('roster.json'), '--out', file('revoked-node.json')), 1)
    assert.ok(node.includes(`node ${revokedNode.peerId} is revoked`), node)
  })

  it('--not-before sets the start of validity; a bad time or a window already over is a usage error', async () => {
    const start = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2 * HOUR_MS).toISOString().replace('.000Z', 'Z')
    const run = await issue('active', 'active.key', '--not-before', start, '--ttl', '1h', '--json')
    assertOk(run)
    const doc = json<{ notBefore: string, notAfter: string }>(run)
    assert.equal(Date.parse(doc.notBefore), Date.parse(start))
    assert.equal(Date.parse(doc.notAfter) - Date.parse(doc.notBefore), HOUR_MS)
    assert.match(assertFails(await issue('active', 'active.key', '--not-before', '2026-12-03 00:00'), 2), /ISO-8601/)
    assert.match(assertFails(await issue('active', 'active.key', '--not-before', '2020-01-01T00:00:00Z', '--ttl', '1h'), 2), /ends in the past/)
  })
})
