import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addMember, Credential, generateSigningKey, initRoster, issueCredential, revoke, type Roster } from '../../membership/index.ts'
import { encryptSigningKey, generateNodeKey, writeKeyFile } from '../../node/index.ts'
import type { RenewReport } from '../../node/cli/renew.ts'
import { eventually } from '../node/fixture.ts'
import { assertFails, assertOk, fedgate, json, REPO } from './run.ts'

const HOUR_MS = 3_600_000
const PASSPHRASE = 'renewal agent passphrase'

describe('fedgate credential renew', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const memberKey = generateSigningKey('member')
  let roster: Roster
  const credential = async (name: string, ttlMs: number, notBefore = Date.now()): Promise<string> => {
    const c = issueCredential({ roster, memberKey, memberId: 'val-1', peer: (await generateNodeKey()).peerId, ttlMs, notBefore })
    await writeFile(file(name), c.encode())
    return file(name)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-renew-'))
    roster = addMember(initRoster({ federation: 'renew-fed', admins: [generateSigningKey('admin').publicKey], threshold: 1 }),
      { id: 'val-1', roles: ['validator'], key: memberKey.publicKey })
    await writeFile(file('roster.json'), roster.encode())
    await writeFile(file('revoking.json'), revoke(roster, { member: 'val-1' }).encode())
    await writeKeyFile(file('member.key'), memberKey)
    await writeKeyFile(file('member-encrypted.key'), encryptSigningKey(memberKey, PASSPHRASE, 14))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('one pass renews what is due (or everything with --force) and says when the rest is due', async () => {
    const due = await credential('due.json', HOUR_MS, Date.now() - 0.9 * HOUR_MS)
    const fresh = await credential('fresh.json', HOUR_MS)
    const freshText = await readFile(fresh, 'utf8')
    const run = await fedgate('credential', 'renew', due, fresh, '--member-key', file('member.key'), '--roster', file('roster.json'), '--renew-at', '0.5', '--json')
    assertOk(run)
    const [a, b] = json<RenewReport[]>(run)
    assert.equal(a?.renewed, true)
    assert.equal(b?.renewed, false)
    assert.ok(Date.parse(b?.nextRenewal ?? '') > Date.now() + 0.4 * HOUR_MS)
    assert.equal(await readFile(fresh, 'utf8'), freshText)
    assert.equal(Credential.decode(await readFile(due, 'utf8')).fingerprint, a?.fingerprint)
    const forced = await fedgate('credential', 'renew', fresh, '--member-key', file('member.key'), '--roster', file('roster.json'), '--force', '--json')
    assertOk(forced)
    assert.equal(json<RenewReport[]>(forced)[0]?.renewed, true)
  })

  it('exits 1 naming the file when a renewal is refused, and leaves the file', async () => {
    const due = await credential('refused.json', HOUR_MS, Date.now() - 2 * HOUR_MS)
    const before = await readFile(due, 'utf8')
    const line = assertFails(await fedgate('credential', 'renew', due, '--member-key', file('member.key'), '--roster', file('revoking.json')), 1)
    assert.match(line, /member val-1 is revoked/)
    assert.equal(await readFile(due, 'utf8'), before)
    assert.match(assertFails(await fedgate('credential', 'renew', due, '--member-key', file('member.key'), '--roster', file('roster.json'), '--renew-at', '1.5'), 2), /fraction/)
  })

  it('--watch holds an encrypted member key, renews when due, logs one JSON line per renewal and stops on SIGTERM', async () => {
    const watched = await credential('watched.json', 6_000)
    const first = Credential.decode(await readFile(watched, 'utf8'))
    const child = spawn(process.execPath, ['scripts/fedgate.ts', 'credential', 'renew', watched, '--member-key', file('member-encrypted.key'),
      '--roster', file('roster.json'), '--renew-at', '0.5', '--ttl', '1h', '--watch'], { cwd: REPO, env: { ...process.env, FEDGATE_PASSPHRASE: PASSPHRASE }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
    const exited = new Promise<number | null>(resolve => child.on('close', resolve))
    try {
      await eventually(() => stdout.includes('"credential-issued"'), `a renewal (stderr: ${stderr})`, 30_000)
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal(await exited, 0, stderr)
    const renewed = Credential.decode(await readFile(watched, 'utf8'))
    assert.notEqual(renewed.fingerprint, first.fingerprint)
    assert.equal(renewed.peer, first.peer)
    assert.equal(renewed.notAfterMs - renewed.notBeforeMs, HOUR_MS)
    assert.ok(renewed.notBeforeMs >= first.notBeforeMs + 3_000 - 50, 'renewed at the renew-at point, not before')
    const line = JSON.parse(stdout.split('\n').find(l => l.includes('"credential-issued"')) ?? '{}') as Record<string, unknown>
    assert.equal(line.file, watched)
    assert.equal(line.credential, renewed.fingerprint)
    assert.equal(line.replaced, first.fingerprint)
  })
})
