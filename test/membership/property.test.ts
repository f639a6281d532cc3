import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  CREDENTIAL_VERSION, acceptRoster, Credential, CREDENTIAL_CHECK_ORDER, CredentialVerifier, isoTime, MalformedError, REASONS, revoke, Roster,
  RosterRefusedError, setPolicy, signMessage, STANDARD_ROLES, toHighS, verifyCredential, verifyNative, verifyNoble,
  type CredentialVerdict, type Member, type ReasonCode, type RosterDocument, type SigningKey
} from '../../membership/index.ts'
import {
  ADMINS, credentialFields, DAY_MS, FEDERATION, genesis, HOUR_MS, MEMBER_KEYS, mintCredential, nextEpoch, nodeKey, signedBy,
  signingKey, T0, thrown, type CredentialFields
} from './fixtures.ts'

type Draft = { -readonly [K in keyof RosterDocument]: RosterDocument[K] }
type Mutation = readonly [string, (draft: Draft) => void]

const KEY_POOL: readonly SigningKey[] = Array.from({ length: 12 }, (_, i) => signingKey('member', `pool ${i}`))
const SECRET_POOL = KEY_POOL.map(k => k.secretKey)
const ROLE_SUBSET = fc.subarray([...STANDARD_ROLES], { minLength: 1 })
const ID = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)
const SIG_HEX = fc.uint8Array({ minLength: 64, maxLength: 64 }).map(b => Buffer.from(b).toString('hex'))
const DURATION = fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`)

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function refusalCode (fn: () => unknown): ReasonCode {
  const err = thrown(fn, 'acceptRoster')
  assert.ok(err instanceof RosterRefusedError, `expected RosterRefusedError, got ${String(err)}`)
  return err.code
}

/** The changed roster, or undefined when the change makes it unparseable (only MalformedError is allowed). */
function parseTampered (doc: Draft): Roster | undefined {
  try {
    return Roster.fromJSON(doc)
  } catch (err) {
    assert.ok(err instanceof MalformedError, `expected MalformedError, got ${String(err)}`)
    return undefined
  }
}

describe('property: signed rosters are tamper-evident', () => {
  let peers: string[]
  let e1: Roster
  let e2: Roster

  before(async () => {
    peers = await Promise.all([0, 1, 2, 3].map(async i => (await nodeKey(`property ${i}`)).peerId))
    let r = revoke(genesis(), { member: 'retired' }, T0)
    r = revoke(r, { credential: 'cd'.repeat(32) }, T0)
    r = setPolicy(r, 'limits', { maxConnectionsPerMember: 6 }, T0)
    e1 = signedBy(r, ADMINS.slice(0, 2))
    e2 = nextEpoch(e1, peers[0] ?? '', [ADMINS[1], ADMINS[2]])
  })

  function memberAt (draft: Draft, i: number): Member {
    const m = draft.members[i % draft.members.length]
    assert.ok(m !== undefined)
    return m
  }

  function setMember (draft: Draft, i: number, change: (m: Member) => Member): void {
    const index = i % draft.members.length
    draft.members = draft.members.map((m, j) => (j === index ? change(m) : m))
  }

  function mutations (): fc.Arbitrary<Mutation> {
    const index = fc.nat({ max: 15 })
    const poolKey = fc.constantFrom(...KEY_POOL.map(k => k.publicKey))
    return fc.oneof(
      fc.integer({ min: 1, max: 1_000_000 }).map((v): Mutation => ['epoch', d => { d.epoch = v }]),
      ID.map((v): Mutation => ['federation', d => { d.federation = v }]),
      fc.integer({ min: T0 - 365 * DAY_MS, max: T0 + 365 * DAY_MS }).map((v): Mutation => ['issuedAt', d => { d.issuedAt = isoTime(v) }]),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).map((v): Mutation => ['roles: declare one more', d => { d.roles = [...d.roles, v] }]),
      index.map((i): Mutation => ['roles: drop one', d => { d.roles = d.roles.filter((_, j) => j !== i % d.roles.length) }]),
      fc.integer({ min: 1, max: 3 }).map((v): Mutation => ['admins.threshold', d => { d.admins = { ...d.admins, threshold: v } }]),
      fc.tuple(index, poolKey).map(([i, k]): Mutation => ['admins.keys[i]', d => { d.admins = { ...d.admins, keys: d.admins.keys.map((x, j) => (j === i % d.admins.keys.length ? k : x)) } }]),
      fc.tuple(index, ID).map(([i, v]): Mutation => ['members[i].id', d => { setMember(d, i, m => ({ ...m, id: v })) }]),
      fc.tuple(index, ROLE_SUBSET).map(([i, v]): Mutation => ['members[i].roles', d => { setMember(d, i, m => ({ ...m, roles: v })) }]),
      fc.tuple(index, poolKey).map(([i, k]): Mutation => ['members[i].key', d => { setMember(d, i, m => ({ ...m, key: k })) }]),
      fc.tuple(index, ID).map(([i, v]): Mutation => ['members[i].org', d => { setMember(d, i, m => ({ ...m, org: v })) }]),
      fc.tuple(index, fc.integer({ min: 1, max: 100 })).map(([i, v]): Mutation => ['members[i].maxConnections', d => { setMember(d, i, m => ({ ...m, maxConnections: v })) }]),
      fc.tuple(index, fc.integer({ min: 1, max: 65535 })).map(([i, port]): Mutation => ['members[i].addrs', d => { setMember(d, i, m => ({ ...m, addrs: [`/ip4/10.0.0.2/tcp/${port}`] })) }]),
      index.map((i): Mutation => ['members: remove one', d => { d.members = d.members.filter((_, j) => j !== i % d.members.length) }]),
      fc.tuple(ID, ROLE_SUBSET, poolKey).map(([id, roles, key]): Mutation => ['members: add one', d => { d.members = [...d.members, { id, roles, key }] }]),
      fc.tuple(fc.constantFrom('/chain/consensus/1.0.0', '/chain/headers/1.0.0', '/chain/bridge/1.0.0'), ROLE_SUBSET).map(([p, roles]): Mutation =>
        ['policy.protocols', d => { d.policy = { ...d.policy, protocols: { ...(d.policy.protocols as object), [p]: roles } } }]),
      fc.tuple(fc.constantFrom(...STANDARD_ROLES), ROLE_SUBSET).map(([role, roles]): Mutation =>
        ['policy.accepts', d => { d.policy = { ...d.policy, accepts: { ...(d.policy.accepts as object), [role]: roles } } }]),
      DURATION.map((v): Mutation => ['policy.credentialMaxTtl', d => { d.policy = { ...d.policy, credentialMaxTtl: v } }]),
      DURATION.map((v): Mutation => ['policy.clockSkew', d => { d.policy = { ...d.policy, clockSkew: v } }]),
      fc.integer({ min: 1, max: 1000 }).map((v): Mutation => ['policy.limits', d => { d.policy = { ...d.policy, limits: { maxConnectionsPerMember: v } } }]),
      fc.constantFrom(...peers.slice(1)).map((p): Mutation => ['revoked: add a peer', d => { d.revoked = [...d.revoked, { peer: p }] }]),
      ID.map((v): Mutation => ['revoked: add a member', d => { d.revoked = [...d.revoked, { member: v }] }]),
      index.map((i): Mutation => ['revoked: lift one', d => { d.revoked = d.revoked.filter((_, j) => j !== i % d.revoked.length) }]),
      fc.tuple(index, SIG_HEX).map(([i, sig]): Mutation => ['signatures[i].sig', d => { d.signatures = d.signatures.map((s, j) => (j === i % d.signatures.length ? { ...s, sig } : s)) }]),
      fc.tuple(index, fc.constantFrom(...ADMINS.map(a => a.publicKey), ...KEY_POOL.map(k => k.publicKey))).map(([i, key]): Mutation =>
        ['signatures[i].key', d => { d.signatures = d.signatures.map((s, j) => (j === i % d.signatures.length ? { ...s, key } : s)) }]),
      index.map((i): Mutation => ['signatures: drop one', d => { d.signatures = d.signatures.filter((_, j) => j !== i % d.signatures.length) }])
    )
  }

  function tamperProperty (original: Roster, current: Roster | null, allowed: readonly ReasonCode[]): void {
    fc.assert(fc.property(fc.array(mutations(), { minLength: 1, maxLength: 3 }), changes => {
      const draft = structuredClone(original.document) as Draft
      for (const [, apply] of changes) apply(draft)
      const tampered = parseTampered(draft)
      if (tampered === undefined) return
      fc.pre(tampered.fingerprint !== original.fingerprint)
      const code = refusalCode(() => acceptRoster(current, tampered))
      assert.ok(allowed.includes(code), `${changes.map(([name]) => name).join(', ')}: refused with ${code}`)
    }), { numRuns: 150 })
  }

  it('genesis: any change makes parsing fail or acceptRoster refuse with bad-signature or threshold-not-met', () => {
    assert.doesNotThrow(() => acceptRoster(null, e1))
    tamperProperty(e1, null, ['bad-signature', 'threshold-not-met'])
  })

  it('next epoch: any change makes parsing fail or acceptRoster refuse', () => {
    assert.doesNotThrow(() => acceptRoster(e1, e2))
    tamperProperty(e2, e1, ['bad-signature', 'threshold-not-met', 'roster-stale', 'federation-mismatch'])
  })

  it('a concrete case: one member role changed after signing is bad-signature', () => {
    const draft = structuredClone(e1.document) as Draft
    setMember(draft, 1, m => ({ ...m, roles: ['validator'] }))
    assert.deepEqual(memberAt(draft, 1).roles, ['validator'])
    assert.equal(refusalCode(() => acceptRoster(null, Roster.fromJSON(draft))), 'bad-signature')
  })
})

describe('property: credentials are tamper-evident', () => {
  let roster: Roster
  let peers: string[]
  let credential: Credential

  before(async () => {
    roster = genesis()
    peers = await Promise.all([0, 1, 2].map(async i => (await nodeKey(`property credential ${i}`)).peerId))
    credential = mintCredential(credentialFields(peers[0] ?? ''), MEMBER_KEYS['val-a'])
  })

  type Change = readonly [string, (f: CredentialFields & { signature: string }) => void]

  function changes (): fc.Arbitrary<Change> {
    const shift = fc.integer({ min: -48 * 3600, max: 48 * 3600 }).filter(s => s !== 0).map(s => s * 1000)
    return fc.oneof(
      ID.map((v): Change => ['federation', f => { f.federation = v }]),
      fc.oneof(ID, fc.constantFrom('rel-b', 'full-c')).map((v): Change => ['memberId', f => { f.memberId = v }]),
      fc.constantFrom(...peers.slice(1)).map((v): Change => ['peer', f => { f.peer = v }]),
      fc.array(fc.constantFrom(...STANDARD_ROLES), { minLength: 1, maxLength: 3 }).map((v): Change => ['roles', f => { f.roles = v }]),
      shift.map((v): Change => ['notBefore', f => { f.notBefore = isoTime(Date.parse(f.notBefore) + v) }]),
      shift.map((v): Change => ['notAfter', f => { f.notAfter = isoTime(Date.parse(f.notAfter) + v) }]),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).map((v): Change => ['serial', f => { f.serial = v }]),
      SIG_HEX.map((v): Change => ['signature', f => { f.signature = v }]),
      fc.constant<Change>(['signature: high-S twin', f => { f.signature = toHighS(f.signature) }])
    )
  }

  for (const [name, verify] of [['noble', verifyNoble], ['native', verifyNative]] as const) {
    it(`any change of any field makes verifyCredential return a reason code (${name})`, () => {
      const now = credential.notBeforeMs + HOUR_MS
      const peer = credential.peer
      assert.equal(verifyCredential(credential, peer, roster, now, verify), null)
      fc.assert(fc.property(fc.array(changes(), { minLength: 1, maxLength: 3 }), list => {
        const fields = { ...structuredClone(credential.document), roles: [...credential.document.roles] }
        for (const [, apply] of list) apply(fields)
        let tampered: Credential
        try {
          tampered = Credential.fromJSON(fields)
        } catch (err) {
          assert.ok(err instanceof MalformedError, String(err))
          return
        }
        fc.pre(tampered.fingerprint !== credential.fingerprint)
        assert.notEqual(verifyCredential(tampered, peer, roster, now, verify), null, list.map(([n]) => n).join(', '))
      }), { numRuns: 150 })
    })
  }
})

describe('property: encode and decode round-trip', () => {
  let peers: string[]

  before(async () => {
    peers = await Promise.all([0, 1, 2].map(async i => (await nodeKey(`roundtrip ${i}`)).peerId))
  })

  it('Roster.parse(roster.encode()) has the same fingerprint and encoding', () => {
    const members = fc.uniqueArray(fc.tuple(ID, ROLE_SUBSET, fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined })), {
      maxLength: KEY_POOL.length,
      selector: ([id]) => id
    })
    fc.assert(fc.property(ID, fc.integer({ min: 1, max: 2 ** 40 }), members, fc.subarray(peers), fc.boolean(), (federation, epoch, list, revokedPeers, sign) => {
      const doc = {
        federation,
        epoch,
        issuedAt: isoTime(T0),
        roles: [...STANDARD_ROLES],
        admins: { threshold: 1, keys: ADMINS.map(a => a.publicKey) },
        members: list.map(([id, roles, max], i) => ({ id, roles, key: KEY_POOL[i]?.publicKey ?? '', ...(max === undefined ? {} : { maxConnections: max }) })),
        revoked: revokedPeers.map(peer => ({ peer })),
        policy: { protocols: { '/chain/consensus/1.0.0': ['validator'] }, clockSkew: '30s' },
        signatures: []
      }
      const unsigned = Roster.fromJSON(doc)
      const roster = sign ? signedBy(unsigned, [ADMINS[0]]) : unsigned
      const again = Roster.parse(roster.encode())
      assert.equal(again.fingerprint, roster.fingerprint)
      assert.equal(again.encode(), roster.encode())
      assert.equal(again.members.size, list.length)
    }), { numRuns: 100 })
  })

  it('Credential.decode(credential.encode()) has the same fingerprint, from text and from bytes', () => {
    fc.assert(fc.property(
      fc.constantFrom(...peers), ID, fc.uniqueArray(fc.constantFrom(...STANDARD_ROLES), { minLength: 1 }),
      fc.integer({ min: 0, max: 3650 * DAY_MS }), fc.integer({ min: 1000, max: 30 * DAY_MS }), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
      fc.nat({ max: KEY_POOL.length - 1 }),
      (peer, memberId, roles, start, ttl, serial, k) => {
        const notBefore = T0 - 1800 * DAY_MS + start
        const c = mintCredential({
          version: CREDENTIAL_VERSION, federation: FEDERATION, memberId, peer, roles, serial, notBefore: isoTime(notBefore), notAfter: isoTime(notBefore + ttl)
        }, KEY_POOL[k] ?? MEMBER_KEYS['val-a'])
        const fromText = Credential.decode(c.encode())
        const fromBytes = Credential.decode(Buffer.from(c.encode()))
        assert.equal(fromText.fingerprint, c.fingerprint)
        assert.equal(fromBytes.fingerprint, c.fingerprint)
        assert.equal(fromText.encode(), c.encode())
        assert.deepEqual(Buffer.from(fromText.signingMessage), Buffer.from(c.signingMessage))
      }
    ), { numRuns: 100 })
  })
})

describe('property: noble and native verifiers agree', () => {
  const CURVE_ORDER_HEX = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141'

  it('on valid, tampered, high-S, out-of-range and random signatures', () => {
    const variant = fc.constantFrom('valid', 'message bit', 'signature bit', 'high-S', 'other key', 'random', 'r = n', 's = 0')
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat({ max: KEY_POOL.length - 1 }), variant, fc.nat({ max: 511 }), SIG_HEX,
      (message, k, kind, bit, random) => {
        const key = KEY_POOL[k]
        const secret = SECRET_POOL[k]
        assert.ok(key !== undefined && secret !== undefined)
        const sig = signMessage(message, secret)
        let msg: Uint8Array = message
        let s = sig
        let pub = key.publicKey
        let expected: boolean | undefined
        switch (kind) {
          case 'valid': expected = true; break
          case 'message bit': msg = flip(message, bit % 256); expected = false; break
          case 'signature bit': s = hex(flip(Buffer.from(sig, 'hex'), bit)); break
          case 'high-S': s = toHighS(sig); expected = false; break
          case 'other key': pub = (KEY_POOL[(k + 1) % KEY_POOL.length] ?? key).publicKey; expected = false; break
          case 'random': s = random; break
          case 'r = n': s = CURVE_ORDER_HEX + sig.slice(64); expected = false; break
          case 's = 0': s = sig.slice(0, 64) + '0'.repeat(64); expected = false; break
        }
        const noble = verifyNoble(msg, s, pub)
        const native = verifyNative(msg, s, pub)
        assert.equal(noble, native, `${kind}: noble ${String(noble)}, native ${String(native)}`)
        if (expected !== undefined) assert.equal(noble, expected, kind)
      }
    ), { numRuns: 200 })
  })
})

function flip (bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes)
  const i = Math.floor(bit / 8) % out.length
  out[i] = (out[i] ?? 0) ^ (1 << (bit % 8))
  return out
}

describe('verifyCredential check order', () => {
  /** What a credential and its context look like; each breaker spoils exactly one check. */
  interface Scenario {
    federation: string
    memberId: string
    remotePeer: string
    revokePeer: boolean
    startsInFuture: boolean
    endsInPast: boolean
    longTtl: boolean
    roles: string[]
    signer: SigningKey
  }

  let peer: string
  let otherPeer: string
  let roster: Roster
  let revokedRoster: Roster
  const now = T0 + 30 * DAY_MS

  const BREAKERS: Record<CredentialVerdict, (s: Scenario) => void> = {
    'federation-mismatch': s => { s.federation = 'other-fed' },
    'unknown-member': s => { s.memberId = 'ghost' },
    'revoked': s => { s.revokePeer = true },
    'peer-mismatch': s => { s.remotePeer = otherPeer },
    'not-yet-valid': s => { s.startsInFuture = true },
    'expired': s => { s.endsInPast = true },
    'ttl-exceeded': s => { s.longTtl = true },
    'role-not-held': s => { s.roles = ['validator', 'relayer'] },
    'bad-signature': s => { s.signer = MEMBER_KEYS['rel-b'] }
  }

  before(async () => {
    peer = (await nodeKey('order')).peerId
    otherPeer = (await nodeKey('order other')).peerId
    roster = genesis()
    revokedRoster = revoke(roster, { peer }, T0)
  })

  function scenario (broken: readonly CredentialVerdict[]): Scenario {
    const s: Scenario = {
      federation: FEDERATION,
      memberId: 'val-a',
      remotePeer: peer,
      revokePeer: false,
      startsInFuture: false,
      endsInPast: false,
      longTtl: false,
      roles: ['validator'],
      signer: MEMBER_KEYS['val-a']
    }
    for (const code of broken) BREAKERS[code](s)
    return s
  }

  function run (s: Scenario): { verdict: CredentialVerdict | null, cached: CredentialVerdict | null } {
    const ttl = s.longTtl ? 8 * DAY_MS : DAY_MS
    const notBefore = s.startsInFuture ? now + 2 * HOUR_MS : s.endsInPast ? now - ttl - 2 * HOUR_MS : now - HOUR_MS
    const c = mintCredential({
      version: CREDENTIAL_VERSION,
      federation: s.federation,
      memberId: s.memberId,
      peer,
      roles: s.roles,
      notBefore: isoTime(notBefore),
      notAfter: isoTime(notBefore + ttl),
      serial: 'order'
    }, s.signer)
    const r = s.revokePeer ? revokedRoster : roster
    return { verdict: verifyCredential(c, s.remotePeer, r, now), cached: new CredentialVerifier().verify(c, s.remotePeer, r, now) }
  }

  it('lists exactly the credential-stage reason codes', () => {
    const credentialStage = Object.entries(REASONS).filter(([, r]) => r.stage === 'credential').map(([code]) => code)
    assert.deepEqual([...CREDENTIAL_CHECK_ORDER].sort(), credentialStage.sort())
  })

  it('an unbroken credential is valid', () => {
    assert.deepEqual(run(scenario([])), { verdict: null, cached: null })
  })

  for (const code of CREDENTIAL_CHECK_ORDER) {
    it(`${code} is reachable on its own`, () => {
      assert.deepEqual(run(scenario([code])), { verdict: code, cached: code })
    })
  }

  it('with several checks failing, the first in CREDENTIAL_CHECK_ORDER wins (every combination)', () => {
    let combinations = 0
    for (let mask = 1; mask < 1 << CREDENTIAL_CHECK_ORDER.length; mask++) {
      const broken = CREDENTIAL_CHECK_ORDER.filter((_, i) => (mask & (1 << i)) !== 0)
      // A window cannot both start in the future and end in the past.
      if (broken.includes('not-yet-valid') && broken.includes('expired')) continue
      const expected = broken[0]
      assert.deepEqual(run(scenario(broken)), { verdict: expected, cached: expected }, broken.join(' + '))
      combinations++
    }
    assert.ok(combinations > 300)
  })

  it('a credential both expired and with a bad signature is expired', () => {
    assert.equal(run(scenario(['expired', 'bad-signature'])).verdict, 'expired')
  })
})
