import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RosterDiff, RosterDocument } from '../../membership/index.ts'
import type { KeygenResult, RosterEditReport, RosterSignReport } from '../../node/cli/index.ts'
import { assertFails, assertOk, fedgate, json } from './run.ts'

/** The edits that change policy, members and revocations, each a new epoch the previous admins sign. */
describe('fedgate roster: policy and member edits', () => {
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
      ...[1, 2, 3].map(i => fedgate('keygen', 'admin', '--out', file(`admin-${i}.key`), '--json')),
      ...[1, 2].map(i => fedgate('keygen', 'member', '--out', file(`member-${i}.key`), '--json'))
    ])
    for (const run of runs) assertOk(run)
    admins.push(...runs.slice(0, 3).map(r => json<KeygenResult>(r)))
    members.push(...runs.slice(3).map(r => json<KeygenResult>(r)))
    assertOk(await fedgate('roster', 'init', '--federation', 'gov-fed', '--admin', admin(1).file, admin(2).file, admin(3).file,
      '--threshold', '2', '--out', file('epoch-1.json')))
    assertOk(await fedgate('roster', 'add-member', file('epoch-1.json'), '--id', 'val-1', '--roles', 'validator', '--key', members[0]?.file ?? ''))
    await sign('epoch-1.json', 1)
    await sign('epoch-1.json', 2)
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('set-policy changes accepts, protocols, credential lifetime, clock skew and limits in a new epoch', async () => {
    const run = await fedgate('roster', 'set-policy', file('epoch-1.json'), '--out', file('epoch-2.json'), '--json',
      '--accepts', 'validator=validator,relayer', '--protocol', '/chain/consensus/1.0.0=validator', '--credential-max-ttl', '2d',
      '--clock-skew', '30s', '--limit', 'maxConnectionsPerMember=4', '--limit', 'handshakeTimeout=5s')
    assertOk(run)
    assert.equal(json<RosterEditReport>(run).epoch, 2)
    const doc = await read('epoch-2.json')
    assert.deepEqual(doc.policy.accepts, { ...(await read('epoch-1.json')).policy.accepts as object, validator: ['validator', 'relayer'] })
    assert.deepEqual(doc.policy.protocols, { '/chain/consensus/1.0.0': ['validator'] })
    assert.deepEqual([doc.policy.credentialMaxTtl, doc.policy.clockSkew, doc.policy.limits], ['2d', '30s', { maxConnectionsPerMember: 4, handshakeTimeout: '5s' }])

    const removed = await fedgate('roster', 'set-policy', file('epoch-2.json'), '--remove-protocol', '/chain/consensus/1.0.0')
    assertOk(removed)
    assert.deepEqual((await read('epoch-2.json')).policy.protocols, {})
    await sign('epoch-2.json', 1)
    const signed = await sign('epoch-2.json', 2, '--previous', file('epoch-1.json'))
    assert.equal(signed.thresholdMet, true)
    assertOk(await fedgate('roster', 'verify', file('epoch-2.json'), '--previous', file('epoch-1.json')))
  })

  it('set-policy refuses unknown limits, bad durations, unknown roles and an empty change, writing nothing', async () => {
    const before = await readFile(file('epoch-2.json'), 'utf8')
    for (const [args, pattern] of [
      [['--limit', 'maxSockets=4'], /\$\.policy\.limits\.maxSockets/],
      [['--limit', 'maxConnectionsPerMember=0'], /\$\.policy\.limits\.maxConnectionsPerMember/],
      [['--clock-skew', 'soon'], /\$\.policy\.clockSkew/],
      [['--accepts', 'validator=oracle'], /unknown role "oracle"/],
      [['--remove-protocol', '/not/listed'], /does not list it/],
      [[], /nothing to change/]
    ] as const) {
      const line = assertFails(await fedgate('roster', 'set-policy', file('epoch-2.json'), ...args), 2)
      assert.match(line, pattern)
    }
    assert.equal(await readFile(file('epoch-2.json'), 'utf8'), before)
  })

  it('update-member changes roles, key, org, addresses and cap, keeping the rest', async () => {
    const run = await fedgate('roster', 'update-member', file('epoch-2.json'), '--id', 'val-1', '--roles', 'validator,relayer', '--key', members[1]?.publicKey ?? '',
      '--org', 'acme', '--addr', '/ip4/10.0.0.1/tcp/4001', '--addr', '/ip4/10.0.0.2/tcp/4001', '--max-connections', '3', '--out', file('epoch-3.json'), '--json')
    assertOk(run)
    assert.equal(json<RosterEditReport>(run).epoch, 3)
    const [member] = (await read('epoch-3.json')).members
    assert.deepEqual(member, { id: 'val-1', org: 'acme', roles: ['validator', 'relayer'], key: members[1]?.publicKey, addrs: ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001'], maxConnections: 3 })
    const diff = await fedgate('roster', 'diff', file('epoch-2.json'), file('epoch-3.json'), '--json')
    assert.deepEqual(json<RosterDiff>(diff).drops, ['val-1'])

    assert.match(assertFails(await fedgate('roster', 'update-member', file('epoch-3.json'), '--id', 'val-2', '--org', 'x'), 1), /no member "val-2".*close matches: val-1/)
    assert.match(assertFails(await fedgate('roster', 'update-member', file('epoch-3.json'), '--id', 'val-1'), 2), /nothing to change/)
    assert.match(assertFails(await fedgate('roster', 'update-member', file('epoch-3.json'), '--id', 'val-1', '--org', 'acme'), 1), /already has these values/)
  })

  it('unrevoke lifts a member revocation; a node key or credential needs --force', async () => {
    const peer = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
    assertOk(await fedgate('roster', 'revoke', file('epoch-3.json'), '--member', 'val-1'))
    assertOk(await fedgate('roster', 'revoke', file('epoch-3.json'), '--peer', peer))
    const lifted = await fedgate('roster', 'unrevoke', file('epoch-3.json'), '--member', 'val-1')
    assertOk(lifted)
    assert.match(lifted.stdout, /lifted the revocation of member val-1/)
    assert.deepEqual((await read('epoch-3.json')).revoked, [{ peer }])
    assert.match(assertFails(await fedgate('roster', 'unrevoke', file('epoch-3.json'), '--peer', peer), 2), /add --force/)
    assertOk(await fedgate('roster', 'unrevoke', file('epoch-3.json'), '--peer', peer, '--force'))
    assert.deepEqual((await read('epoch-3.json')).revoked, [])
    assert.match(assertFails(await fedgate('roster', 'unrevoke', file('epoch-3.json'), '--member', 'val-1'), 1), /not revoked/)
  })
})
