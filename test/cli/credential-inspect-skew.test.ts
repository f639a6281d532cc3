import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addMember, generateSigningKey, initRoster, issueCredential, setPolicy, type Roster } from '../../membership/index.ts'
import { generateNodeKey } from '../../node/index.ts'
import { clockSkewNote, type CredentialReport } from '../../node/cli/credential.ts'
import { assertFails, assertOk, fedgate, json } from './run.ts'

const MIN_MS = 60_000
const HOUR_MS = 60 * MIN_MS

describe('credential inspect explains a verdict that relies on clock skew', () => {
  let dir: string
  const memberKey = generateSigningKey('member')
  let roster: Roster
  let peer: string
  const file = (name: string): string => join(dir, name)
  const credential = async (name: string, notBefore: number, ttlMs = HOUR_MS): Promise<string> => {
    await writeFile(file(name), issueCredential({ roster, memberKey, memberId: 'val-1', peer, notBefore, ttlMs }).encode())
    return file(name)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-skew-'))
    peer = (await generateNodeKey()).peerId
    const genesis = initRoster({ federation: 'skew-fed', admins: [generateSigningKey('admin').publicKey], threshold: 1 })
    roster = setPolicy(addMember(genesis, { id: 'val-1', roles: ['validator'], key: memberKey.publicKey }), 'clockSkew', '5m')
    await writeFile(file('roster.json'), roster.encode())
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a credential expired 3 min ago is ok within the 5 min clockSkew, and says so', async () => {
    const run = await fedgate('credential', 'inspect', await credential('late.json', Date.now() - HOUR_MS - 3 * MIN_MS), '--roster', file('roster.json'), '--json')
    assertOk(run)
    const report = json<CredentialReport>(run)
    assert.equal(report.verdict, 'ok')
    assert.match(report.clockSkew ?? '', /^expired 3 min ago \(.*\); accepted within the 5 min clockSkew of the roster, until /)
    const human = await fedgate('credential', 'inspect', file('late.json'), '--roster', file('roster.json'))
    assertOk(human)
    assert.match(human.stdout, /^clockSkew +expired 3 min ago/m)
  })

  it('a credential expired 10 min ago is refused, beyond the clockSkew, and the error line says how far', async () => {
    const line = assertFails(await fedgate('credential', 'inspect', await credential('gone.json', Date.now() - HOUR_MS - 10 * MIN_MS), '--roster', file('roster.json')), 1)
    assert.match(line, /expired under roster .*\(expired 10 min ago \(.*\), beyond the 5 min clockSkew of the roster\)/)
  })

  it('a credential fresh by this clock carries no clock-skew note (control)', async () => {
    const run = await fedgate('credential', 'inspect', await credential('fresh.json', Date.now()), '--roster', file('roster.json'), '--json')
    assertOk(run)
    assert.equal(json<CredentialReport>(run).clockSkew, undefined)
  })

  it('explains not-yet-valid the same way, on both sides of the skew', async () => {
    const c = issueCredential({ roster, memberKey, memberId: 'val-1', peer, notBefore: 10 * HOUR_MS, ttlMs: HOUR_MS })
    assert.equal(clockSkewNote(c, 5 * MIN_MS, 10 * HOUR_MS - 2 * MIN_MS, null), `valid only from ${c.document.notBefore} (in 2 min); accepted now within the 5 min clockSkew of the roster`)
    assert.equal(clockSkewNote(c, 5 * MIN_MS, 10 * HOUR_MS - 3 * HOUR_MS, 'not-yet-valid'), `valid only from ${c.document.notBefore} (in 3 h), beyond the 5 min clockSkew of the roster`)
    assert.equal(clockSkewNote(c, 5 * MIN_MS, 10 * HOUR_MS + 30 * MIN_MS, null), undefined)
    assert.equal(clockSkewNote(c, 60_000, 11 * HOUR_MS + 45_000, null), `expired 45 s ago (${c.document.notAfter}); accepted within the 60 s clockSkew of the roster, until ${new Date(11 * HOUR_MS + 60_000).toISOString().replace('.000Z', 'Z')}`)
  })
})
