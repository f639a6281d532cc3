import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSigningKey, initRoster } from '../../membership/index.ts'
import { assertFails, assertOk, fedgate } from './run.ts'

describe('fedgate CLI: one public key in two roles', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const admin = generateSigningKey('admin')
  const member = generateSigningKey('member')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-key-roles-'))
    await writeFile(file('roster.json'), initRoster({ federation: 'roles-fed', admins: [admin.publicKey], threshold: 1 }).encode())
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('roster add-member refuses the admin key as a member key and leaves the file as it was', async () => {
    const before = await readFile(file('roster.json'), 'utf8')
    const line = assertFails(await fedgate('roster', 'add-member', file('roster.json'), '--id', 'val-1', '--roles', 'validator', '--key', admin.publicKey), 2)
    assert.match(line, /member "val-1"/)
    assert.match(line, /admin key/)
    assert.equal(await readFile(file('roster.json'), 'utf8'), before)
  })

  it('roster verify refuses a file edited by hand to give two members one key, naming both', async () => {
    assertOk(await fedgate('roster', 'add-member', file('roster.json'), '--id', 'val-1', '--roles', 'validator', '--key', member.publicKey))
    const doc = JSON.parse(await readFile(file('roster.json'), 'utf8')) as { members: unknown[] }
    doc.members.push({ id: 'val-2', roles: ['validator'], key: member.publicKey })
    await writeFile(file('twins.json'), JSON.stringify(doc))
    const line = assertFails(await fedgate('roster', 'verify', file('twins.json')), 1)
    assert.ok(line.includes(file('twins.json')), line)
    assert.match(line, /member "val-2"/)
    assert.match(line, /member key of "val-1"/)
  })
})
