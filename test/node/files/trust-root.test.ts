import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  adminSetFingerprint, initRoster, Roster, RosterRefusedError, RosterStore, signingKeyFromSecret, signRoster, type RosterRefusal
} from '../../../node/index.ts'
import { FEDERATION, genesis, nextEpoch, nodeKey, T0 } from '../../membership/fixtures.ts'

/**
 * Write access to the data directory must not hand over the trust root: an attacker deletes the
 * stored epochs and writes one epoch signed by its own admin key (same federation name, a huge
 * epoch). With a pinned root, such a chain is set aside and the operator's roster file runs.
 */
describe('RosterStore: a pinned trust root', () => {
  let dir: string
  let attacker: Roster
  let peer: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-root-'))
    peer = (await nodeKey('root')).peerId
    const key = signingKeyFromSecret('admin', new Uint8Array(32).fill(7))
    // The attacker keeps every member of the real roster (so the victim still starts), adds its own admin.
    const real = genesis()
    const forged = Roster.fromJSON({ ...initRoster({ federation: FEDERATION, admins: [key.publicKey], threshold: 1, now: T0 }).document, epoch: 1_000_000, members: real.document.members, policy: real.document.policy })
    attacker = signRoster(forged, key)
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  /** A data dir that accepted genesis and its successor, then had its epochs replaced by the attacker's. */
  async function tampered (name: string): Promise<{ dataDir: string, rosterFile: string, successor: Roster }> {
    const dataDir = join(dir, name)
    const rosterFile = join(dir, `${name}.json`)
    const successor = nextEpoch(genesis(), peer)
    await writeFile(rosterFile, genesis().encode())
    const store = new RosterStore({ dataDir, rosterFile })
    await store.open()
    assert.equal(await store.apply(successor, 'test'), null)
    await store.close()
    await writeFile(rosterFile, successor.encode())
    const epochs = join(dataDir, 'epochs')
    for (const file of await readdir(epochs)) await rm(join(epochs, file))
    await writeFile(join(epochs, '0000000001000000.json'), attacker.encode())
    return { dataDir, rosterFile, successor }
  }

  it('without a pin, the planted chain is trusted on first use: what the start-up summary warns about', async () => {
    const { dataDir, rosterFile } = await tampered('unpinned')
    const store = new RosterStore({ dataDir, rosterFile })
    await store.open()
    assert.equal(store.current.fingerprint, attacker.fingerprint, 'the attack works without a pin')
    assert.equal(store.root.fingerprint, attacker.fingerprint, 'and the summary names the root it trusted')
    await store.close()
  })

  for (const pin of ['roster', 'admins'] as const) {
    it(`pinned by the ${pin === 'roster' ? 'genesis epoch\'s fingerprint' : 'admin set\'s fingerprint'}, the planted chain is set aside and the roster file runs`, async () => {
      const { dataDir, rosterFile, successor } = await tampered(`pinned-${pin}`)
      const fingerprint = pin === 'roster' ? genesis().fingerprint : adminSetFingerprint(genesis().admins)
      // The operator's file holds the successor; its chain to the pin needs genesis, so give that first.
      await writeFile(rosterFile, genesis().encode())
      const store = new RosterStore({ dataDir, rosterFile, trustRoot: { federation: FEDERATION, fingerprint } })
      await store.open()
      assert.equal(store.current.fingerprint, genesis().fingerprint)
      assert.equal(await store.apply(successor, 'test'), null)
      assert.ok((await readdir(dataDir)).some(name => name.startsWith('epochs.untrusted-')), 'the planted epochs are kept aside, not deleted')
      await store.close()
    })
  }

  it('with a pin, a roster file that does not match it is refused with untrusted-root and nothing is stored', async () => {
    const dataDir = join(dir, 'foreign')
    const rosterFile = join(dir, 'foreign.json')
    await writeFile(rosterFile, attacker.encode())
    const refusals: RosterRefusal[] = []
    const store = new RosterStore({ dataDir, rosterFile, trustRoot: { federation: FEDERATION, fingerprint: genesis().fingerprint } })
    store.addEventListener('refused', evt => { refusals.push(evt.detail) })
    const err = await store.open().then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof RosterRefusedError)
    assert.equal(err.code, 'untrusted-root')
    assert.deepEqual(refusals.map(r => r.code), ['untrusted-root'])
    assert.deepEqual(await readdir(join(dataDir, 'epochs')), [])
  })
})
