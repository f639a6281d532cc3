import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import {
  acceptRoster, acceptsPeer, addMember, allowProtocol, countSignatures, DEFAULT_ACCEPTS, DEFAULT_LIMITS, diffRosters,
  initRoster, isoTime, MalformedError, protocolAllows, removeMember, revoke, Roster, RosterEditError, RosterRefusedError,
  setAdmins, setPolicy, signRoster, STANDARD_ROLES, unrevoke, updateMember, verifyNoble, type Member, type ReasonCode
} from '../../membership/index.ts'
import {
  ADMINS, CONSENSUS, DAY_MS, FEDERATION, genesis, genesisDraft, HEADERS, HOUR_MS, MEMBER_KEYS, NEW_ADMINS, nodeKey,
  signedBy, signingKey, T0, thrown
} from './fixtures.ts'

function refusal (fn: () => unknown): ReasonCode {
  const err = thrown(fn, 'acceptRoster')
  assert.ok(err instanceof RosterRefusedError, `expected RosterRefusedError, got ${String(err)}`)
  assert.equal(err.name, 'RosterRefusedError')
  return err.code
}

describe('initRoster', () => {
  it('writes a genesis draft with the default policy in full', () => {
    const admins = ADMINS.map(a => a.publicKey)
    const roster = initRoster({ federation: FEDERATION, admins, threshold: 2, now: T0 + 1234 })
    assert.equal(roster.federation, FEDERATION)
    assert.equal(roster.epoch, 1)
    assert.equal(roster.signed, false)
    assert.equal(roster.document.issuedAt, isoTime(T0 + 1234))
    assert.deepEqual(roster.document.admins, { threshold: 2, keys: admins })
    assert.deepEqual(roster.document.roles, [...STANDARD_ROLES])
    assert.deepEqual(roster.document.members, [])
    assert.deepEqual(roster.document.revoked, [])
    assert.deepEqual(roster.document.policy, { protocols: {}, accepts: DEFAULT_ACCEPTS, credentialMaxTtl: '7d', clockSkew: '60s' })
    assert.equal(roster.policy.credentialMaxTtlMs, 7 * DAY_MS)
    assert.equal(roster.policy.clockSkewMs, 60_000)
    assert.deepEqual(roster.policy.limits, DEFAULT_LIMITS)
    assert.equal(roster.policy.protocols.size, 0)
  })

  it('keeps only the default accepts entries among the declared roles', () => {
    const roster = initRoster({ federation: FEDERATION, admins: [ADMINS[0].publicKey], threshold: 1, roles: ['validator', 'light-client', 'archive'], now: T0 })
    assert.deepEqual(roster.document.policy.accepts, { 'validator': ['validator'], 'light-client': ['validator'] })
  })

  it('refuses a threshold above the number of admins, naming the field', () => {
    const err = thrown(() => initRoster({ federation: FEDERATION, admins: [ADMINS[0].publicKey], threshold: 2, now: T0 }))
    assert.ok(err instanceof MalformedError)
    assert.equal(err.path, '$.admins.threshold')
  })
})

describe('roster edits', () => {
  let peer: string

  before(async () => {
    peer = (await nodeKey('edits')).peerId
  })

  const newMember: Member = { id: 'val-d', roles: ['validator'], key: signingKey('member', 'val-d').publicKey }
  const edits: ReadonlyArray<[string, (r: Roster, now: number) => Roster]> = [
    ['addMember', (r, now) => addMember(r, newMember, now)],
    ['removeMember', (r, now) => removeMember(r, 'rel-b', now)],
    ['revoke', (r, now) => revoke(r, { member: 'rel-b' }, now)],
    ['allowProtocol', (r, now) => allowProtocol(r, '/chain/bridge/1.0.0', ['relayer'], now)],
    ['setPolicy', (r, now) => setPolicy(r, 'clockSkew', '30s', now)],
    ['setAdmins', (r, now) => setAdmins(r, { threshold: 1, keys: [NEW_ADMINS[0].publicKey] }, now)]
  ]

  for (const [name, edit] of edits) {
    it(`${name} on a signed roster yields the next epoch with no signatures`, () => {
      const signed = genesis()
      const next = edit(signed, T0 + HOUR_MS)
      assert.equal(next.epoch, signed.epoch + 1)
      assert.equal(next.signed, false)
      assert.deepEqual(next.document.signatures, [])
      assert.equal(next.document.issuedAt, isoTime(T0 + HOUR_MS))
      assert.notEqual(next.fingerprint, signed.fingerprint)
    })

    it(`${name} on an unsigned draft keeps its epoch`, () => {
      const draft = genesisDraft()
      const next = edit(draft, T0 + HOUR_MS)
      assert.equal(next.epoch, draft.epoch)
      assert.equal(next.signed, false)
      assert.notEqual(next.fingerprint, draft.fingerprint)
    })
  }

  it('addMember: an existing id is an edit error, an undeclared role is malformed', () => {
    assert.equal(thrown(() => addMember(genesis(), { ...newMember, id: 'val-a' })) instanceof RosterEditError, true)
    const err = thrown(() => addMember(genesis(), { ...newMember, roles: ['wizard'] }))
    assert.ok(err instanceof MalformedError)
    assert.equal(err.path, '$.members[3].roles[0]')
  })

  it('removeMember of an unknown id and a repeated revocation are edit errors', () => {
    assert.equal((thrown(() => removeMember(genesis(), 'nobody')) as Error).name, 'RosterEditError')
    const revoked = revoke(genesis(), { peer }, T0)
    assert.equal((thrown(() => revoke(revoked, { peer }, T0)) as Error).name, 'RosterEditError')
  })

  it('removeMember removes the member from the lookup index', () => {
    const next = removeMember(genesis(), 'rel-b', T0)
    assert.equal(next.member('rel-b'), undefined)
    assert.equal(next.members.size, 2)
  })

  it('revoke fills the revocation indexes by kind', () => {
    let r = revoke(genesis(), { member: 'rel-b' }, T0)
    r = revoke(r, { peer }, T0)
    r = revoke(r, { credential: 'ab'.repeat(32) }, T0)
    assert.deepEqual([...r.revokedMembers], ['rel-b'])
    assert.deepEqual([...r.revokedPeers], [peer])
    assert.deepEqual([...r.revokedCredentials], ['ab'.repeat(32)])
  })

  it('memberLimit is the member maxConnections, else the policy default', () => {
    const r = genesis()
    assert.equal(r.memberLimit('val-a'), 4)
    assert.equal(r.memberLimit('rel-b'), DEFAULT_LIMITS.maxConnectionsPerMember)
  })
})

describe('signRoster', () => {
  it('adds one verifiable signature and leaves the content and epoch unchanged', () => {
    const draft = genesisDraft()
    const signed = signRoster(draft, ADMINS[1])
    assert.equal(signed.epoch, draft.epoch)
    assert.deepEqual(Buffer.from(signed.signingMessage), Buffer.from(draft.signingMessage))
    assert.notEqual(signed.fingerprint, draft.fingerprint)
    assert.equal(signed.document.signatures.length, 1)
    const [signature] = signed.document.signatures
    assert.equal(signature?.key, ADMINS[1].publicKey)
    assert.equal(verifyNoble(draft.signingMessage, signature.sig, ADMINS[1].publicKey), true)
  })

  it('refuses a second signature by the same admin and a member key', () => {
    const signed = signRoster(genesisDraft(), ADMINS[0])
    assert.equal((thrown(() => signRoster(signed, ADMINS[0])) as Error).name, 'RosterEditError')
    assert.equal((thrown(() => signRoster(genesisDraft(), MEMBER_KEYS['val-a'])) as Error).name, 'RosterEditError')
  })
})

describe('acceptRoster', () => {
  let peers: string[]

  before(async () => {
    peers = await Promise.all(['a', 'b', 'c', 'd'].map(async l => (await nodeKey(`accept ${l}`)).peerId))
  })

  function bump (roster: Roster, n: number): Roster {
    return revoke(roster, { peer: peers[n] ?? '' }, roster.issuedAtMs + HOUR_MS)
  }

  it('pins a genesis signed by a threshold of its own admin set', () => {
    const g = genesis()
    assert.doesNotThrow(() => acceptRoster(null, g))
    assert.equal(refusal(() => acceptRoster(null, genesisDraft())), 'threshold-not-met')
    assert.equal(refusal(() => acceptRoster(null, signedBy(genesisDraft(), [ADMINS[2]]))), 'threshold-not-met')
  })

  it('rotates the admin set: each epoch is judged by the admins of the one before', () => {
    const e1 = genesis()
    const rotation = setAdmins(e1, { threshold: 2, keys: NEW_ADMINS.map(a => a.publicKey) }, T0 + HOUR_MS)
    const e2 = signedBy(rotation, [ADMINS[0], ADMINS[2]])
    assert.doesNotThrow(() => acceptRoster(e1, e2))
    assert.equal(refusal(() => acceptRoster(e1, signedBy(rotation, NEW_ADMINS.slice(0, 2)))), 'threshold-not-met', 'new admins cannot appoint themselves')

    const draft3 = bump(e2, 0)
    assert.equal(draft3.epoch, 3)
    assert.doesNotThrow(() => acceptRoster(e2, signedBy(draft3, [NEW_ADMINS[1], NEW_ADMINS[2]])))
    assert.equal(refusal(() => acceptRoster(e2, signedBy(draft3, ADMINS))), 'threshold-not-met', 'old admins alone')
    assert.equal(refusal(() => acceptRoster(e2, signedBy(draft3, [...ADMINS, NEW_ADMINS[0]]))), 'threshold-not-met', 'one new admin plus old ones')
  })

  it('counts only valid signatures by the admin set; outsiders do not count', () => {
    const outsiders = [signingKey('admin', 'outsider 1'), signingKey('admin', 'outsider 2'), signingKey('admin', 'outsider 3')]
    const r = signedBy(genesisDraft(), [ADMINS[0], ...outsiders])
    assert.equal(refusal(() => acceptRoster(null, r)), 'threshold-not-met')
    const counted = countSignatures(r, r.document.admins)
    assert.deepEqual(counted.valid, [ADMINS[0].publicKey])
    assert.deepEqual(counted.bad, [])
    assert.deepEqual(counted.outsiders, outsiders.map(o => o.publicKey))
  })

  it('refuses fewer signatures than the threshold of the current epoch', () => {
    const e1 = genesis()
    const e2 = bump(e1, 0)
    assert.equal(refusal(() => acceptRoster(e1, e2)), 'threshold-not-met')
    assert.equal(refusal(() => acceptRoster(e1, signedBy(e2, [ADMINS[1]]))), 'threshold-not-met')
    assert.doesNotThrow(() => acceptRoster(e1, signedBy(e2, [ADMINS[1], ADMINS[2]])))
  })

  it('refuses a roster changed after signing with bad-signature', () => {
    const e1 = genesis()
    const e2 = signedBy(bump(e1, 0), ADMINS.slice(0, 2))
    const doc = structuredClone(e2.document)
    const tampered = Roster.fromJSON({ ...doc, members: doc.members.map(m => m.id === 'rel-b' ? { ...m, roles: ['relayer', 'validator'] } : m) })
    assert.equal(refusal(() => acceptRoster(e1, tampered)), 'bad-signature')
    const counted = countSignatures(tampered, e1.document.admins)
    assert.equal(counted.bad.length, 2)
  })

  it('refuses rollback and a second roster of the same epoch with roster-stale', () => {
    const e1 = genesis()
    const e2 = signedBy(bump(e1, 0), ADMINS.slice(0, 2))
    const e2b = signedBy(bump(e1, 1), ADMINS.slice(0, 2))
    assert.equal(refusal(() => acceptRoster(e2, e1)), 'roster-stale')
    assert.equal(refusal(() => acceptRoster(e2, e2)), 'roster-stale')
    assert.equal(refusal(() => acceptRoster(e2, e2b)), 'roster-stale')
  })

  it('refuses a roster of another federation with federation-mismatch', () => {
    const e1 = genesis()
    const other = signedBy(Roster.fromJSON({ ...structuredClone(bump(e1, 0).document), federation: 'other-fed' }), ADMINS.slice(0, 2))
    assert.equal(other.epoch, 2)
    assert.equal(refusal(() => acceptRoster(e1, other)), 'federation-mismatch')
  })
})

describe('diffRosters', () => {
  let peer: string
  let before1: Roster
  let after1: Roster

  const keyMember: Member = { id: 'key-e', roles: ['relayer'], key: signingKey('member', 'key-e old').publicKey }
  const added: Member = { id: 'new-d', roles: ['validator'], key: signingKey('member', 'new-d').publicKey }

  before(async () => {
    peer = (await nodeKey('diff')).peerId
    before1 = signedBy(addMember(genesisDraft(), keyMember, T0), ADMINS.slice(0, 2))
    const t = T0 + HOUR_MS
    let r = addMember(before1, added, t)
    r = removeMember(r, 'rel-b', t)
    const valA = r.member('val-a')
    const fullC = r.member('full-c')
    assert.ok(valA !== undefined && fullC !== undefined)
    r = addMember(removeMember(r, 'val-a', t), { ...valA, addrs: ['/ip4/10.0.0.9/tcp/4001'], maxConnections: 2 }, t)
    r = addMember(removeMember(r, 'full-c', t), { ...fullC, roles: ['full-node'] }, t)
    r = addMember(removeMember(r, 'key-e', t), { ...keyMember, key: signingKey('member', 'key-e new').publicKey }, t)
    r = revoke(r, { peer }, t)
    r = revoke(r, { member: 'ghost' }, t)
    r = allowProtocol(r, '/chain/bridge/1.0.0', ['validator', 'relayer'], t)
    r = setPolicy(r, 'credentialMaxTtl', '1d', t)
    after1 = r
  })

  it('lists added, removed and changed members with the changed fields', () => {
    const diff = diffRosters(before1, after1)
    assert.equal(diff.federation, FEDERATION)
    assert.equal(diff.fromEpoch, 1)
    assert.equal(diff.toEpoch, 2)
    assert.deepEqual(diff.added.map(m => m.id), ['new-d'])
    assert.deepEqual(diff.removed.map(m => m.id), ['rel-b'])
    const changed = Object.fromEntries(diff.changed.map(c => [c.id, [...c.fields].sort()]))
    assert.deepEqual(changed, { 'val-a': ['addrs', 'maxConnections'], 'full-c': ['roles'], 'key-e': ['key'] })
  })

  it('lists new revocations and policy changes, and no admin change', () => {
    const diff = diffRosters(before1, after1)
    assert.deepEqual(diff.revoked, [{ peer }, { member: 'ghost' }])
    assert.deepEqual(diff.unrevoked, [])
    assert.deepEqual(diff.policy, [
      { path: 'policy.protocols["/chain/bridge/1.0.0"]', before: undefined, after: ['validator', 'relayer'] },
      { path: 'policy.credentialMaxTtl', before: '7d', after: '1d' }
    ])
    assert.equal(diff.admins, null)
  })

  it('drops exactly the members removed, re-keyed or losing a role', () => {
    assert.deepEqual(diffRosters(before1, after1).drops, ['full-c', 'key-e', 'rel-b'])
  })

  it('drops a revoked member and reports a lifted revocation', () => {
    const revoked = signedBy(revoke(before1, { member: 'val-a' }, T0 + HOUR_MS), ADMINS.slice(0, 2))
    const diff = diffRosters(before1, revoked)
    assert.deepEqual(diff.revoked, [{ member: 'val-a' }])
    assert.deepEqual(diff.drops, ['val-a'])
    const lifted = Roster.fromJSON({ ...structuredClone(revoked.document), epoch: 3, revoked: [], signatures: [] })
    assert.deepEqual(diffRosters(revoked, lifted).unrevoked, [{ member: 'val-a' }])
    assert.deepEqual(diffRosters(revoked, lifted).drops, [])
  })

  it('reports an admin change with both admin sets', () => {
    const next = setAdmins(before1, { threshold: 1, keys: [NEW_ADMINS[0].publicKey] }, T0)
    const diff = diffRosters(before1, next)
    assert.deepEqual(diff.admins, { before: before1.document.admins, after: { threshold: 1, keys: [NEW_ADMINS[0].publicKey] } })
    assert.deepEqual(diff.adminsAdded, [NEW_ADMINS[0].publicKey])
    assert.deepEqual(diff.adminsRemoved, before1.document.admins.keys)
    assert.deepEqual(diff.drops, [])
  })
})

describe('acceptRoster across a gap', () => {
  it('threshold-not-met past a gap names the missing epochs: admins appointed in between may have signed', () => {
    const rotated = signedBy(setAdmins(genesis(), { threshold: 1, keys: [NEW_ADMINS[0].publicKey] }, T0), ADMINS.slice(0, 2))
    const byNewAdmins = signedBy(revoke(rotated, { member: 'ghost' }, T0), [NEW_ADMINS[0]])
    const err = thrown(() => { acceptRoster(genesis(), byNewAdmins) }, 'acceptRoster')
    assert.ok(err instanceof RosterRefusedError && err.code === 'threshold-not-met')
    assert.match(err.message, /epoch 2 is missing here: if the admins changed in between, apply the missing epochs first/)
    acceptRoster(genesis(), rotated)
    acceptRoster(rotated, byNewAdmins)
  })
})

describe('updateMember and unrevoke', () => {
  const roster = genesis()
  const rotated = signingKey('member', 'rotated val-a').publicKey

  it('updateMember changes the named fields in the next epoch, in the order the file shows them', () => {
    const before = roster.member('val-a')
    const next = updateMember(roster, 'val-a', { maxConnections: 2, org: 'acme', key: rotated }, T0)
    assert.equal(next.epoch, roster.epoch + 1)
    assert.deepEqual(next.document.signatures, [])
    const member = next.member('val-a')
    assert.deepEqual(member, { ...before, org: 'acme', key: rotated, maxConnections: 2 })
    assert.deepEqual(Object.keys(member ?? {}).filter(k => k !== 'addrs'), ['id', 'org', 'roles', 'key', 'maxConnections'])
    assert.deepEqual(next.document.members.filter(m => m.id !== 'val-a'), roster.document.members.filter(m => m.id !== 'val-a'))
    assert.deepEqual(diffRosters(roster, next).drops, ['val-a'])
  })

  it('updateMember refuses an unknown member, no change, and values the roster refuses', () => {
    assert.throws(() => updateMember(roster, 'val-z', { org: 'x' }), { name: 'RosterEditError' })
    assert.throws(() => updateMember(roster, 'val-a', {}), { name: 'RosterEditError' })
    assert.throws(() => updateMember(roster, 'val-a', { roles: roster.member('val-a')?.roles ?? [] }), { name: 'RosterEditError' })
    assert.throws(() => updateMember(roster, 'val-a', { roles: ['oracle'] }), { name: 'MalformedError' })
  })

  it('unrevoke removes exactly one revocation and refuses one that is not there', () => {
    const revoked = revoke(revoke(roster, { member: 'val-a' }, T0), { member: 'ghost' }, T0)
    const lifted = unrevoke(revoked, { member: 'val-a' }, T0)
    assert.deepEqual(lifted.document.revoked, [{ member: 'ghost' }])
    assert.throws(() => unrevoke(lifted, { member: 'val-a' }), { name: 'RosterEditError' })
  })
})

describe('policy helpers', () => {
  const roster = genesis()

  it('acceptsPeer follows policy.accepts for every pair of standard roles', () => {
    for (const local of STANDARD_ROLES) {
      for (const peer of STANDARD_ROLES) {
        const expected = DEFAULT_ACCEPTS[local]?.includes(peer) ?? true
        assert.equal(acceptsPeer(roster.policy, [local], [peer]), expected, `${local} accepts ${peer}`)
      }
    }
  })

  it('acceptsPeer: several local roles accept the union; a peer needs one accepted role; no peer roles is refused', () => {
    assert.equal(acceptsPeer(roster.policy, ['validator'], ['light-client']), false)
    assert.equal(acceptsPeer(roster.policy, ['validator', 'full-node'], ['light-client']), true)
    assert.equal(acceptsPeer(roster.policy, ['validator'], ['light-client', 'relayer']), true)
    assert.equal(acceptsPeer(roster.policy, ['validator'], []), false)
  })

  it('acceptsPeer: a local role without an accepts entry accepts every role', () => {
    const open = initRoster({ federation: FEDERATION, admins: [ADMINS[0].publicKey], threshold: 1, roles: ['validator', 'archive'], now: T0 })
    assert.equal(open.policy.accepts.has('archive'), false)
    assert.equal(acceptsPeer(open.policy, ['archive'], ['validator']), true)
    assert.equal(acceptsPeer(open.policy, ['validator'], ['archive']), false)
  })

  it('protocolAllows: listed roles only, and an unlisted protocol is denied to every role', () => {
    assert.equal(protocolAllows(roster.policy, CONSENSUS, ['validator']), true)
    assert.equal(protocolAllows(roster.policy, CONSENSUS, ['relayer', 'full-node']), false)
    assert.equal(protocolAllows(roster.policy, CONSENSUS, ['relayer', 'validator']), true)
    assert.equal(protocolAllows(roster.policy, HEADERS, ['light-client']), true)
    assert.equal(protocolAllows(roster.policy, CONSENSUS, []), false)
    for (const role of STANDARD_ROLES) {
      assert.equal(protocolAllows(roster.policy, '/chain/unlisted/1.0.0', [role]), false, role)
    }
  })
})

describe('one key, one role', () => {
  const member = (id: string, key: string): Member => ({ id, roles: ['validator'], key })
  const malformed = (fn: () => unknown): MalformedError => {
    const err = thrown(fn, 'roster with a key in two roles')
    assert.ok(err instanceof MalformedError, `expected MalformedError, got ${String(err)}`)
    return err
  }

  it('control: distinct admin and member keys are accepted', () => {
    const roster = addMember(genesis(), member('val-new', signingKey('member', 'fresh').publicKey), T0)
    assert.ok(roster.members.has('val-new'))
  })

  it('refuses an admin key added as a member key, naming both uses', () => {
    const err = malformed(() => addMember(genesis(), member('val-new', ADMINS[1].publicKey), T0))
    assert.match(err.path, /^\$\.members\[\d+\]\.key$/)
    assert.match(err.message, /member "val-new"/)
    assert.match(err.message, /admin key \$\.admins\.keys\[1\]/)
  })

  it('refuses one key for two members, naming both members', () => {
    const err = malformed(() => addMember(genesis(), member('val-twin', MEMBER_KEYS['val-a'].publicKey), T0))
    assert.match(err.message, /member "val-twin"/)
    assert.match(err.message, /member key of "val-a"/)
  })

  it('refuses an admin set rotated onto a member key', () => {
    const err = malformed(() => setAdmins(genesis(), { threshold: 1, keys: [MEMBER_KEYS['rel-b'].publicKey] }, T0))
    assert.match(err.message, /member "rel-b"/)
    assert.match(err.message, /admin key \$\.admins\.keys\[0\]/)
  })

  it('refuses a roster file that arrives with the overlap already in it (a roster parsed, not edited)', () => {
    const doc = structuredClone(genesis().document) as unknown as { members: Member[] }
    doc.members = [...doc.members, member('val-x', ADMINS[0].publicKey)]
    const err = malformed(() => Roster.fromJSON(doc))
    assert.match(err.message, /admin key/)
  })
})
