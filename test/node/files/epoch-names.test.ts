import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Roster, RosterRefusedError, RosterStore } from '../../../node/index.ts'
import { ADMINS, genesisDraft, signedBy } from '../../membership/fixtures.ts'

const HIGH = 1_000_000_000_000

/** A signed roster at `epoch`, the genesis draft's content otherwise. */
function at (epoch: number, revokedPeer?: string): Roster {
  const draft = genesisDraft()
  return signedBy(Roster.fromJSON({ ...draft.document, epoch, revoked: revokedPeer === undefined ? [] : [{ peer: revokedPeer }] }), ADMINS.slice(0, 2))
}

/**
 * Store and load agree for every valid epoch number: an epoch of 10^12 or more used to be stored
 * under a name the loader never matched, so a restart silently ran an older epoch.
 */
describe('RosterStore: stored epoch names', () => {
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'fedgate-epochs-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a restart resumes at an epoch of 10^12 and above, not an older one', async () => {
    const dataDir = join(dir, 'high')
    const rosterFile = join(dir, 'high.json')
    await writeFile(rosterFile, at(HIGH).encode())
    const first = new RosterStore({ dataDir, rosterFile })
    await first.open()
    assert.equal((await first.apply(at(HIGH + 1, '12D3KooWJHqYdQR8c22xAgFMLwVVBmnkWER2yXPyh6SzPXU5Yvxr'), 'test')), null)
    await first.close()
    assert.deepEqual((await readdir(join(dataDir, 'epochs'))).sort(), ['0001000000000000.json', '0001000000000001.json'])
    const again = new RosterStore({ dataDir, rosterFile })
    await again.open()
    assert.equal(again.current.epoch, HIGH + 1)
    assert.equal(again.current.revokedPeers.size, 1)
    await again.close()
  })

  it('the largest safe epoch number round-trips', async () => {
    const dataDir = join(dir, 'max')
    const rosterFile = join(dir, 'max.json')
    await writeFile(rosterFile, at(Number.MAX_SAFE_INTEGER).encode())
    const store = new RosterStore({ dataDir, rosterFile })
    await store.open()
    await store.close()
    const again = new RosterStore({ dataDir })
    await again.open()
    assert.equal(again.current.epoch, Number.MAX_SAFE_INTEGER)
    await again.close()
  })

  it('an earlier version\'s 12-digit names are renamed and loaded', async () => {
    const dataDir = join(dir, 'legacy')
    const store = new RosterStore({ dataDir, rosterFile: join(dir, 'legacy.json') })
    await writeFile(join(dir, 'legacy.json'), at(5).encode())
    await store.open()
    await store.close()
    const epochs = join(dataDir, 'epochs')
    await rm(join(epochs, '0000000000000005.json'))
    await writeFile(join(epochs, '000000000005.json'), at(5).encode())
    const again = new RosterStore({ dataDir })
    await again.open()
    assert.equal(again.current.epoch, 5)
    assert.deepEqual(await readdir(epochs), ['0000000000000005.json'])
    await again.close()
  })

  it('a stored epoch under a name this version does not write stops the start instead of rolling back', async () => {
    const dataDir = join(dir, 'planted')
    const rosterFile = join(dir, 'planted.json')
    await writeFile(rosterFile, at(7).encode())
    const store = new RosterStore({ dataDir, rosterFile })
    await store.open()
    await store.close()
    // A 13-digit name, as an earlier version wrote for epochs of 10^12 and above.
    await writeFile(join(dataDir, 'epochs', '1000000000000.json'), at(HIGH).encode())
    const err = await new RosterStore({ dataDir, rosterFile }).open().then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof RosterRefusedError)
    assert.match(err.message, /1000000000000\.json is not a stored epoch name/)
  })
})
