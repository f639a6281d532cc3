import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { initRoster, MemoryRosterStore, RosterRefusedError, signRoster, type Roster, type RosterRefusal, type RosterUpdate } from '../../node/index.ts'
import { ADMINS, genesis, genesisDraft, nextEpoch, nodeKey, signedBy, signingKey } from '../membership/fixtures.ts'

/** Every event a store dispatches, in order. */
function recorder (store: MemoryRosterStore): { roster: RosterUpdate[], refused: RosterRefusal[] } {
  const seen = { roster: [] as RosterUpdate[], refused: [] as RosterRefusal[] }
  store.addEventListener('roster', evt => { seen.roster.push(evt.detail) })
  store.addEventListener('refused', evt => { seen.refused.push(evt.detail) })
  return seen
}

describe('MemoryRosterStore: the roster in memory, under RosterStore\'s rules', () => {
  /** Signed epochs 1..3 of one federation, each revoking one more peer. */
  let chain: Roster[]

  before(async () => {
    chain = [genesis()]
    for (const i of [2, 3]) chain.push(nextEpoch(chain[chain.length - 1] ?? genesis(), (await nodeKey(`memory ${i}`)).peerId))
  })

  const epoch = (n: number): Roster => {
    const roster = chain[n - 1]
    assert.ok(roster !== undefined)
    return roster
  }

  it('starts from a chain of epochs (objects or text) pinned at its trust root, and follows later epochs with the diff', async () => {
    const store = MemoryRosterStore.from([epoch(1), epoch(2).encode()], { trustRoot: { federation: epoch(1).federation, fingerprint: epoch(1).fingerprint } })
    assert.deepEqual([store.current.epoch, store.root.epoch], [2, 1])
    const seen = recorder(store)
    assert.equal(await store.apply(epoch(3), 'test'), null)
    assert.equal(store.current.epoch, 3)
    assert.deepEqual(seen.roster.map(u => [u.previous?.epoch, u.current.epoch, u.source]), [[2, 3, 'test']])
    assert.equal(seen.roster[0]?.diff?.revoked.length, 1)
  })

  it('takes the accepted epoch again silently, and keeps it when refusing a stale, under-signed, foreign or malformed one', async () => {
    const store = MemoryRosterStore.from([epoch(1), epoch(2)])
    const seen = recorder(store)
    assert.equal(await store.apply(epoch(2), 'again'), null)
    const outsider = signingKey('admin', 'outsider')
    const foreign = signRoster(initRoster({ federation: 'other-fed', admins: [outsider.publicKey], threshold: 1 }), outsider)
    const refusals = [
      await store.apply(epoch(1), 'stale'),
      await store.apply(signedBy(nextEpoch(epoch(2), (await nodeKey('memory x')).peerId, []), [ADMINS[0]]), 'under-signed'),
      await store.apply(foreign, 'foreign'),
      await store.applyText('{"federation": ', 'truncated')
    ]
    assert.deepEqual(refusals.map(r => [r?.code, r?.source]), [
      ['roster-stale', 'stale'], ['threshold-not-met', 'under-signed'], ['federation-mismatch', 'foreign'], ['malformed', 'truncated']
    ])
    assert.deepEqual(seen.refused.map(r => r.code), refusals.map(r => r?.code))
    assert.deepEqual(seen.roster, [])
    assert.equal(store.current.fingerprint, epoch(2).fingerprint)
  })

  it('refuses a first epoch that is not the pinned root, or not signed by a threshold of its own admins', async () => {
    const pinned = new MemoryRosterStore({ trustRoot: { federation: epoch(1).federation, fingerprint: 'ab'.repeat(32) } })
    assert.equal((await pinned.apply(epoch(1), 'first'))?.code, 'untrusted-root')
    assert.throws(() => pinned.current, RosterRefusedError)
    assert.throws(() => MemoryRosterStore.from([signedBy(genesisDraft(), [ADMINS[0]])]), (err: unknown) => err instanceof RosterRefusedError && err.code === 'threshold-not-met' && /epochs\[0\]/.test(err.message))
    assert.throws(() => MemoryRosterStore.from(['not json']), (err: unknown) => err instanceof RosterRefusedError && err.code === 'malformed')
    assert.throws(() => MemoryRosterStore.from([]), (err: unknown) => err instanceof RosterRefusedError && err.code === 'malformed')
  })
})
