import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DURATION_BOUNDS, formatDuration, LIMIT_BOUNDS, MalformedError, Roster } from '../../membership/index.ts'
import { genesisDraft } from './fixtures.ts'

/** The genesis draft with `policy` merged in. */
function withPolicy (policy: Record<string, unknown>): () => Roster {
  const draft = genesisDraft().document
  return () => Roster.fromJSON({ ...draft, policy: { ...draft.policy, ...policy } })
}

function refusedAt (make: () => Roster, path: string): void {
  assert.throws(make, (err: unknown) => err instanceof MalformedError && err.path === path, `expected MalformedError at ${path}`)
}

/**
 * Every policy duration and limit has bounds, checked when the roster is parsed: a signed roster
 * with `handshakeTimeout: "0ms"` breaks every handshake, one past 24.8 days overflows a timer and
 * fires at once, and `clockSkew: "999999999d"` accepts every expired credential.
 */
describe('policy bounds', () => {
  const durations: Record<string, 'limits' | 'top'> = { firstBytesTimeout: 'limits', handshakeTimeout: 'limits', credentialMaxTtl: 'top', clockSkew: 'top' }
  const bounds: Record<string, { min: number, max: number }> = { ...DURATION_BOUNDS, firstBytesTimeout: LIMIT_BOUNDS.firstBytesTimeout, handshakeTimeout: LIMIT_BOUNDS.handshakeTimeout }

  for (const [name, where] of Object.entries(durations)) {
    const { min, max } = bounds[name] ?? { min: 0, max: 0 }
    const policy = (value: string): Record<string, unknown> => where === 'limits' ? { limits: { [name]: value } } : { [name]: value }
    const path = where === 'limits' ? `$.policy.limits.${name}` : `$.policy.${name}`

    it(`${name}: its bounds ${formatDuration(min)}..${formatDuration(max)} are accepted, one step outside is refused naming ${path}`, () => {
      withPolicy(policy(formatDuration(min)))()
      withPolicy(policy(formatDuration(max)))()
      refusedAt(withPolicy(policy(`${max + 1}ms`)), path)
      if (min > 0) refusedAt(withPolicy(policy(`${min - 1}ms`)), path)
    })
  }

  it('the cases the review found are refused: handshakeTimeout 0ms and 25d, clockSkew 999999999d', () => {
    refusedAt(withPolicy({ limits: { handshakeTimeout: '0ms' } }), '$.policy.limits.handshakeTimeout')
    refusedAt(withPolicy({ limits: { handshakeTimeout: '25d' } }), '$.policy.limits.handshakeTimeout')
    refusedAt(withPolicy({ clockSkew: '999999999d' }), '$.policy.clockSkew')
  })

  for (const [name, { min, max }] of Object.entries(LIMIT_BOUNDS)) {
    if (name in durations) continue
    it(`limits.${name}: ${min}..${max}`, () => {
      withPolicy({ limits: { [name]: min } })()
      withPolicy({ limits: { [name]: max } })()
      refusedAt(withPolicy({ limits: { [name]: max + 1 } }), `$.policy.limits.${name}`)
      refusedAt(withPolicy({ limits: { [name]: min - 1 } }), `$.policy.limits.${name}`)
    })
  }

  it('a parsed roster is a frozen copy: changing the input afterwards changes nothing', () => {
    const doc = structuredClone(genesisDraft().document) as unknown as { members: Array<{ roles: string[] }>, policy: { protocols: Record<string, string[]> } }
    const roster = Roster.fromJSON(doc)
    const fingerprint = roster.fingerprint
    doc.members[0]?.roles.push('relayer')
    doc.policy.protocols['/chain/consensus/1.0.0'] = ['light-client']
    assert.deepEqual(roster.document.members[0]?.roles, ['validator'])
    assert.deepEqual(roster.document.policy, genesisDraft().document.policy)
    assert.equal(roster.fingerprint, fingerprint)
    assert.throws(() => { (roster.document.members[0]?.roles as string[]).push('relayer') }, TypeError)
  })
})
