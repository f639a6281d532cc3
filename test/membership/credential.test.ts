import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import {
  addMember, checkCredential, Credential, CredentialVerifier, DEFAULT_CREDENTIAL_TTL_MS, isoTime, isRevoked, issueCredential,
  removeMember, revoke, Roster, setPolicy, verifyCredential, verifyNative, type IssueCredentialOptions, type SignatureVerifier
} from '../../membership/index.ts'
import {
  ADMINS, credentialFields, DAY_MS, genesis, HOUR_MS, MEMBER_KEYS, mintCredential, nodeKey, signedBy, signingKey, T0, thrown
} from './fixtures.ts'

const SKEW_MS = 60_000

function counting (): { verify: SignatureVerifier, calls: () => number } {
  let n = 0
  return {
    verify: (message, sig, key) => { n++; return verifyNative(message, sig, key) },
    calls: () => n
  }
}

describe('credentials', () => {
  let roster: Roster
  let peer: string
  let otherPeer: string

  before(async () => {
    roster = genesis()
    peer = (await nodeKey('credential')).peerId
    otherPeer = (await nodeKey('credential other')).peerId
  })

  function issue (overrides: Partial<IssueCredentialOptions> = {}): Credential {
    return issueCredential({ roster, memberKey: MEMBER_KEYS['val-a'], memberId: 'val-a', peer, notBefore: T0, ...overrides })
  }

  describe('issueCredential', () => {
    it('defaults to every member role, a 24 h TTL from now and a random serial', () => {
      const a = issueCredential({ roster, memberKey: MEMBER_KEYS['full-c'], memberId: 'full-c', peer, now: T0 })
      const b = issueCredential({ roster, memberKey: MEMBER_KEYS['full-c'], memberId: 'full-c', peer, now: T0 })
      assert.deepEqual(a.roles, ['full-node', 'light-client'])
      assert.equal(a.notBeforeMs, T0)
      assert.equal(a.notAfterMs, T0 + DEFAULT_CREDENTIAL_TTL_MS)
      assert.equal(a.federation, roster.federation)
      assert.equal(a.peer, peer)
      assert.match(a.serial, /^[0-9a-f]{16}$/)
      assert.notEqual(a.serial, b.serial)
      assert.equal(verifyCredential(a, peer, roster, T0 + HOUR_MS), null)
    })

    it('caps the default TTL at the roster credentialMaxTtl', () => {
      const short = signedBy(setPolicy(roster, 'credentialMaxTtl', '1h', T0), ADMINS.slice(0, 2))
      const c = issue({ roster: short })
      assert.equal(c.notAfterMs - c.notBeforeMs, HOUR_MS)
    })

    const refusals: ReadonlyArray<[string, Partial<IssueCredentialOptions>]> = [
      ['an unknown member', { memberId: 'nobody' }],
      ['the key of another member', { memberKey: MEMBER_KEYS['rel-b'] }],
      ['an admin key', { memberKey: ADMINS[0] }],
      ['a key the roster does not list', { memberKey: signingKey('member', 'stranger') }],
      ['roles the member does not hold', { roles: ['validator', 'relayer'] }],
      ['a TTL above credentialMaxTtl', { ttlMs: 7 * DAY_MS + 1000 }],
      ['a zero TTL', { ttlMs: 0 }]
    ]
    for (const [name, overrides] of refusals) {
      it(`refuses ${name}`, () => {
        const err = thrown(() => issue(overrides))
        assert.ok(err instanceof Error)
        assert.equal(err.name, 'CredentialIssueError')
      })
    }

    it('accepts a TTL of exactly credentialMaxTtl', () => {
      const c = issue({ ttlMs: 7 * DAY_MS })
      assert.equal(verifyCredential(c, peer, roster, T0 + DAY_MS), null)
    })
  })

  describe('verifyCredential', () => {
    it('returns null for a valid credential, and each reason code for its failure', () => {
      const valid = issue()
      const now = T0 + HOUR_MS
      assert.equal(verifyCredential(valid, peer, roster, now), null)
      const otherFed = Roster.fromJSON({ ...structuredClone(roster.document), federation: 'other-fed', signatures: [] })
      assert.equal(verifyCredential(valid, peer, otherFed, now), 'federation-mismatch')
      assert.equal(verifyCredential(valid, peer, removeMember(roster, 'val-a', T0), now), 'unknown-member')
      assert.equal(verifyCredential(valid, otherPeer, roster, now), 'peer-mismatch')
      assert.equal(verifyCredential(valid, peer, roster, T0 - HOUR_MS), 'not-yet-valid')
      assert.equal(verifyCredential(valid, peer, roster, T0 + 2 * DAY_MS), 'expired')
      const shortTtl = setPolicy(roster, 'credentialMaxTtl', '1h', T0)
      assert.equal(verifyCredential(valid, peer, shortTtl, now), 'ttl-exceeded')
      const lostRole = addMember(removeMember(roster, 'val-a', T0), { id: 'val-a', roles: ['full-node'], key: MEMBER_KEYS['val-a'].publicKey }, T0)
      assert.equal(verifyCredential(valid, peer, lostRole, now), 'role-not-held')
      const forged = mintCredential(credentialFields(peer), MEMBER_KEYS['rel-b'])
      assert.equal(verifyCredential(forged, peer, roster, now), 'bad-signature')
      assert.equal(checkCredential(forged, peer, roster, now), null, 'checkCredential skips the signature')
    })

    it('revokes by member, by PeerId and by credential fingerprint', () => {
      const c = issue()
      const other = issue({ peer: otherPeer })
      const now = T0 + HOUR_MS
      const byMember = revoke(roster, { member: 'val-a' }, T0)
      const byPeer = revoke(roster, { peer }, T0)
      const byFingerprint = revoke(roster, { credential: c.fingerprint }, T0)
      for (const [name, r] of [['member', byMember], ['peer', byPeer], ['fingerprint', byFingerprint]] as const) {
        assert.equal(isRevoked(c, r), true, name)
        assert.equal(verifyCredential(c, peer, r, now), 'revoked', name)
      }
      assert.equal(verifyCredential(other, otherPeer, byMember, now), 'revoked', 'member revocation covers every node of the member')
      assert.equal(verifyCredential(other, otherPeer, byPeer, now), null, 'peer revocation covers only that peer')
      assert.equal(verifyCredential(other, otherPeer, byFingerprint, now), null, 'fingerprint revocation covers only that credential')
    })

    it('clock skew: notBefore in the future within the skew passes, beyond it fails', () => {
      const c = issue({ notBefore: T0 + HOUR_MS })
      assert.equal(roster.policy.clockSkewMs, SKEW_MS)
      assert.equal(verifyCredential(c, peer, roster, c.notBeforeMs - SKEW_MS), null)
      assert.equal(verifyCredential(c, peer, roster, c.notBeforeMs - SKEW_MS - 1), 'not-yet-valid')
    })

    it('clock skew: notAfter in the past within the skew passes, at or beyond it fails', () => {
      const c = issue()
      assert.equal(verifyCredential(c, peer, roster, c.notAfterMs + SKEW_MS - 1), null)
      assert.equal(verifyCredential(c, peer, roster, c.notAfterMs + SKEW_MS), 'expired')
    })

    it('a zero clock skew makes the window exact', () => {
      const strict = setPolicy(roster, 'clockSkew', '0s', T0)
      const c = issue()
      assert.equal(verifyCredential(c, peer, strict, c.notBeforeMs), null)
      assert.equal(verifyCredential(c, peer, strict, c.notBeforeMs - 1), 'not-yet-valid')
      assert.equal(verifyCredential(c, peer, strict, c.notAfterMs - 1), null)
      assert.equal(verifyCredential(c, peer, strict, c.notAfterMs), 'expired')
    })
  })

  describe('CredentialVerifier', () => {
    it('verifies a signature once, then answers from the cache', () => {
      const { verify, calls } = counting()
      const verifier = new CredentialVerifier({ verify })
      const c = issue()
      assert.equal(verifier.verify(c, peer, roster, T0 + HOUR_MS), null)
      assert.equal(calls(), 1)
      assert.equal(verifier.verify(Credential.decode(c.encode()), peer, roster, T0 + 2 * HOUR_MS), null)
      assert.equal(calls(), 1)
      assert.equal(verifier.cached, 1)
    })

    it('still detects revocation, expiry and a wrong peer after caching, without a signature check', () => {
      const { verify, calls } = counting()
      const verifier = new CredentialVerifier({ verify })
      const c = issue()
      assert.equal(verifier.verify(c, peer, roster, T0 + HOUR_MS), null)
      assert.equal(verifier.verify(c, peer, revoke(roster, { peer }, T0), T0 + HOUR_MS), 'revoked')
      assert.equal(verifier.verify(c, peer, revoke(roster, { credential: c.fingerprint }, T0), T0 + HOUR_MS), 'revoked')
      assert.equal(verifier.verify(c, peer, roster, T0 + 2 * DAY_MS), 'expired')
      assert.equal(verifier.verify(c, otherPeer, roster, T0 + HOUR_MS), 'peer-mismatch')
      assert.equal(calls(), 1)
    })

    it('a changed member key in a new roster misses the cache and fails the signature', () => {
      const { verify, calls } = counting()
      const verifier = new CredentialVerifier({ verify })
      const c = issue()
      assert.equal(verifier.verify(c, peer, roster, T0 + HOUR_MS), null)
      const rekeyed = signedBy(addMember(removeMember(roster, 'val-a', T0), {
        id: 'val-a', roles: ['validator'], key: signingKey('member', 'val-a rotated').publicKey
      }, T0), ADMINS.slice(0, 2))
      assert.equal(verifier.verify(c, peer, rekeyed, T0 + HOUR_MS), 'bad-signature')
      assert.equal(calls(), 2)
      assert.equal(verifier.verify(c, peer, rekeyed, T0 + HOUR_MS), 'bad-signature')
      assert.equal(calls(), 3, 'a bad signature is never cached')
    })

    it('keeps at most cacheSize entries, evicting the oldest', () => {
      const { verify, calls } = counting()
      const verifier = new CredentialVerifier({ verify, cacheSize: 2 })
      const creds = ['s1', 's2', 's3'].map(serial => issue({ serial }))
      for (const c of creds) assert.equal(verifier.verify(c, peer, roster, T0 + HOUR_MS), null)
      assert.equal(verifier.cached, 2)
      assert.equal(calls(), 3)
      const [first, , third] = creds
      assert.ok(first !== undefined && third !== undefined)
      assert.equal(verifier.verify(third, peer, roster, T0 + HOUR_MS), null)
      assert.equal(calls(), 3)
      assert.equal(verifier.verify(first, peer, roster, T0 + HOUR_MS), null)
      assert.equal(calls(), 4)
    })
  })

  it('times are stored at second precision', () => {
    const c = issue({ notBefore: T0 + 1500 })
    assert.equal(c.document.notBefore, isoTime(T0 + 1000))
  })
})
