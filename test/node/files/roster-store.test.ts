import { describe, it, before, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  initRoster, Roster, RosterRefusedError, RosterStore, signingKeyFromSecret, signRoster,
  type ReasonCode, type RosterRefusal, type RosterUpdate
} from '../../../node/index.ts'
import { waitFor } from '../fixture.ts'
import { ADMINS, genesis, genesisDraft, nextEpoch, nodeKey, signedBy } from '../../membership/fixtures.ts'

const EVENT_TIMEOUT_MS = 5000

/** Resolves with the first 'roster' event for `epoch`; rejects if none comes within the timeout. */
async function rosterEvent (store: RosterStore, epoch: number): Promise<RosterUpdate> {
  return waitFor(store, 'roster', update => update.current.epoch === epoch, EVENT_TIMEOUT_MS)
}

/** Resolves with the first 'refused' event carrying `code`; rejects if none comes within the timeout. */
async function refusedEvent (store: RosterStore, code: ReasonCode): Promise<RosterRefusal> {
  return waitFor(store, 'refused', refusal => refusal.code === code, EVENT_TIMEOUT_MS)
}

function epochName (epoch: number): string {
  return `${String(epoch).padStart(16, '0')}.json`
}

describe('RosterStore', () => {
  /** Signed epochs 1..4 of one federation, each revoking one more peer. */
  let chain: Roster[]
  let dir: string
  let dataDir: string
  let rosterFile: string
  let stores: RosterStore[]

  function epoch (n: number): Roster {
    const r = chain[n - 1]
    assert.ok(r !== undefined, `no epoch ${n} in the test chain`)
    return r
  }

  function store (): RosterStore {
    const s = new RosterStore({ dataDir, rosterFile, debounceMs: 10 })
    stores.push(s)
    return s
  }

  /** Every file in the epochs directory with its content. */
  async function storedEpochs (): Promise<Map<string, string>> {
    const epochsDir = join(dataDir, 'epochs')
    const names = (await readdir(epochsDir)).sort()
    return new Map(await Promise.all(names.map(async (n): Promise<[string, string]> => [n, await readFile(join(epochsDir, n), 'utf8')])))
  }

  async function assertStored (epochs: number[]): Promise<void> {
    const stored = await storedEpochs()
    for (const e of epochs) {
      assert.equal(stored.get(epochName(e)), epoch(e).encode(), `epoch ${e} stored unchanged`)
    }
    assert.deepEqual([...stored.keys()].filter(n => /^\d{16}\.json$/.test(n)), epochs.map(epochName))
  }

  before(async () => {
    const peers = await Promise.all([2, 3, 4].map(async i => (await nodeKey(`store ${i}`)).peerId))
    chain = [genesis()]
    for (const peer of peers) chain.push(nextEpoch(chain[chain.length - 1] ?? genesis(), peer))
    assert.deepEqual(chain.map(r => r.epoch), [1, 2, 3, 4])
  })

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-store-'))
    dataDir = join(dir, 'data')
    rosterFile = join(dir, 'roster.json')
    stores = []
    await writeFile(rosterFile, epoch(1).encode())
  })

  afterEach(async () => {
    await Promise.all(stores.map(async s => s.close()))
    await rm(dir, { recursive: true, force: true })
  })

  describe('open', () => {
    it('pins a signed genesis roster file and stores it as epoch 1', async () => {
      const s = store()
      const roster = await s.open()
      assert.equal(roster.epoch, 1)
      assert.equal(s.current.fingerprint, epoch(1).fingerprint)
      assert.deepEqual(await s.epochs(), [1])
      assert.equal((await s.epoch(1))?.fingerprint, epoch(1).fingerprint)
      await assertStored([1])
    })

    it('refuses to pin an under-signed genesis and stores nothing', async () => {
      await writeFile(rosterFile, signedBy(genesisDraft(), [ADMINS[0]]).encode())
      const s = store()
      const err = await s.open().then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof RosterRefusedError)
      assert.equal(err.code, 'threshold-not-met')
      assert.deepEqual(await s.epochs(), [])
      assert.throws(() => s.current, { name: 'RosterRefusedError' })
    })

    it('with deferWrites accepts in memory only: closed before commit it stores nothing, commit stores every epoch accepted meanwhile', async () => {
      const failed = store()
      assert.equal((await failed.open({ deferWrites: true })).epoch, 1)
      await failed.close()
      assert.deepEqual(await failed.epochs(), [])

      const s = store()
      await s.open({ deferWrites: true })
      assert.equal(await s.applyText(epoch(2).encode(), 'peer x'), null)
      assert.equal(s.current.epoch, 2)
      assert.deepEqual(await s.epochs(), [])
      assert.equal(await readFile(rosterFile, 'utf8'), epoch(1).encode(), 'the roster file is not touched before commit')
      await s.commit()
      await assertStored([1, 2])
      assert.equal(await readFile(rosterFile, 'utf8'), epoch(2).encode())
      assert.equal(await s.applyText(epoch(3).encode(), 'publish'), null)
      await assertStored([1, 2, 3])
    })

    it('ignores a temp file left next to the roster file', async () => {
      await writeFile(`${rosterFile}.123tmp`, epoch(3).encode())
      const s = store()
      assert.equal((await s.open()).epoch, 1)
      await assertStored([1])
    })
  })

  describe('applying epochs', () => {
    it('a newer signed epoch emits roster with a diff and is stored as epochs/<16 digits>.json', async () => {
      const s = store()
      await s.open()
      await writeFile(rosterFile, epoch(2).encode())
      const event = rosterEvent(s, 2)
      assert.equal(await s.applyFile(), null)
      const update = await event
      assert.equal(update.previous?.epoch, 1)
      assert.equal(update.current.fingerprint, epoch(2).fingerprint)
      assert.equal(update.source, rosterFile)
      assert.equal(update.diff?.fromEpoch, 1)
      assert.equal(update.diff.toEpoch, 2)
      assert.deepEqual(update.diff.revoked, epoch(2).document.revoked.slice(epoch(1).document.revoked.length))
      assert.equal(s.current.epoch, 2)
      await assertStored([1, 2])
    })

    it('an epoch accepted from elsewhere rewrites an older roster file; a newer draft or a non-roster file is left alone', async () => {
      const s = store()
      await s.open()
      assert.equal(await s.applyText(epoch(2).encode(), 'publish'), null)
      assert.equal(await readFile(rosterFile, 'utf8'), epoch(2).encode())
      const draft = Roster.fromJSON({ ...structuredClone(epoch(4).document), signatures: [] }).encode()
      await writeFile(rosterFile, draft)
      assert.equal(await s.applyText(epoch(3).encode(), 'publish'), null)
      assert.equal(await readFile(rosterFile, 'utf8'), draft)
      await writeFile(rosterFile, '{ "half": ')
      assert.equal(await s.applyText(epoch(4).encode(), 'publish'), null)
      assert.equal(await readFile(rosterFile, 'utf8'), '{ "half": ')
      await assertStored([1, 2, 3, 4])
    })

    it('with followRosterFile false the roster file is never rewritten', async () => {
      const s = new RosterStore({ dataDir, rosterFile, debounceMs: 10, followRosterFile: false })
      stores.push(s)
      await s.open()
      assert.equal(await s.applyText(epoch(2).encode(), 'publish'), null)
      assert.equal(await readFile(rosterFile, 'utf8'), epoch(1).encode())
    })

    it('a published epoch (applyText) is applied the same way', async () => {
      const s = store()
      await s.open()
      const event = rosterEvent(s, 2)
      assert.equal(await s.applyText(epoch(2).encode(), 'publish'), null)
      assert.equal((await event).source, 'publish')
      assert.equal(s.current.epoch, 2)
      assert.equal((await s.applyText('{', 'publish'))?.code, 'malformed')
      await assertStored([1, 2])
    })

    it('re-reading the accepted roster file is not a refusal', async () => {
      const s = store()
      await s.open()
      let refusals = 0
      s.addEventListener('refused', () => { refusals++ })
      assert.equal(await s.applyFile(), null)
      assert.equal(refusals, 0)
    })

    const bad: ReadonlyArray<[string, (text: string) => string, ReasonCode]> = [
      ['an empty file', () => '', 'malformed'],
      ['a truncated file', text => text.slice(0, text.length - 10), 'malformed'],
      ['a half-written file', text => text.slice(0, Math.floor(text.length / 2)), 'malformed'],
      ['invalid JSON', text => text.replace('{', '{{'), 'malformed'],
      ['an under-signed epoch', () => signedBy(Roster.fromJSON({ ...structuredClone(epoch(3).document), signatures: [] }), [ADMINS[1]]).encode(), 'threshold-not-met'],
      ['an epoch changed after signing', () => Roster.fromJSON({ ...structuredClone(epoch(3).document), revoked: [] }).encode(), 'bad-signature'],
      ['an older epoch', () => epoch(1).encode(), 'roster-stale'],
      ['another roster of the same epoch', () => nextEpoch(epoch(1), peerOf(epoch(4))).encode(), 'roster-stale'],
      ['another federation', () => signedBy(Roster.fromJSON({ ...structuredClone(epoch(3).document), federation: 'other-fed', signatures: [] }), ADMINS.slice(0, 2)).encode(), 'federation-mismatch']
    ]

    for (const [name, content, code] of bad) {
      it(`refuses ${name} with ${code} and keeps the accepted epoch`, async () => {
        const s = store()
        await s.open()
        await writeFile(rosterFile, epoch(2).encode())
        await s.applyFile()
        assert.equal(s.current.epoch, 2)
        await writeFile(rosterFile, content(epoch(2).encode()))
        const event = refusedEvent(s, code)
        const refusal = await s.applyFile()
        assert.equal(refusal?.code, code)
        assert.equal(refusal.source, rosterFile)
        assert.equal((await event).code, code)
        assert.equal(s.current.fingerprint, epoch(2).fingerprint)
        await assertStored([1, 2])
      })
    }
  })

  describe('storage failures', () => {
    it('refuses an epoch it cannot store, keeps the accepted one, and does not crash', async () => {
      const s = store()
      await s.open()
      // A directory where the epoch file would go makes the atomic rename fail.
      await mkdir(join(dataDir, 'epochs', epochName(2)))
      await writeFile(rosterFile, epoch(2).encode())
      const refusal = await s.applyFile()
      assert.equal(refusal?.code, 'storage-error')
      assert.equal(s.current.epoch, 1)
      await rm(join(dataDir, 'epochs', epochName(2)), { recursive: true })
      assert.equal(await s.applyFile(), null)
      assert.equal(s.current.epoch, 2)
    })
  })

  describe('restart', () => {
    it('resumes at the highest accepted epoch even when the roster file holds an older one', async () => {
      const first = store()
      await first.open()
      for (const n of [2, 3]) {
        await writeFile(rosterFile, epoch(n).encode())
        assert.equal(await first.applyFile(), null)
      }
      await first.close()
      await writeFile(rosterFile, epoch(2).encode())
      await writeFile(join(dataDir, 'epochs', `${epochName(4)}.tmp-1234`), epoch(4).encode())

      const second = store()
      const stale = refusedEvent(second, 'roster-stale')
      assert.equal((await second.open()).epoch, 3)
      assert.equal((await stale).epoch, 2)
      assert.equal(second.current.fingerprint, epoch(3).fingerprint)
      assert.deepEqual(await second.epochs(), [1, 2, 3])
    })

    it('resumes without a roster file, and applies a newer roster file on open', async () => {
      const first = store()
      await first.open()
      await writeFile(rosterFile, epoch(2).encode())
      await first.applyFile()
      await first.close()

      const withoutFile = new RosterStore({ dataDir })
      stores.push(withoutFile)
      assert.equal((await withoutFile.open()).epoch, 2)

      await writeFile(rosterFile, epoch(3).encode())
      const third = store()
      const event = rosterEvent(third, 3)
      assert.equal((await third.open()).epoch, 3)
      assert.equal((await event).previous?.epoch, 2)
      await assertStored([1, 2, 3])
    })
    it('refuses to start on a stored epoch that does not follow from the one before (planted in the data directory)', async () => {
      const first = store()
      await first.open()
      await first.close()
      const planted = nextEpoch(epoch(1), (await nodeKey('planted')).peerId, [ADMINS[0]])
      await writeFile(join(dataDir, 'epochs', epochName(2)), planted.encode())

      const second = new RosterStore({ dataDir })
      stores.push(second)
      await assert.rejects(second.open(), (err: Error) => err.name === 'RosterRefusedError' && (err as RosterRefusedError).code === 'malformed')
    })

    it('checks the whole stored chain: a planted epoch behind a damaged or self-signed predecessor is refused too', async () => {
      const first = store()
      await first.open()
      await first.close()
      const outsider = signingKeyFromSecret('admin', new Uint8Array(32).fill(7))
      let planted = initRoster({ federation: epoch(1).federation, admins: [outsider.publicKey], threshold: 1 })
      planted = Roster.fromJSON({ ...planted.document, epoch: 999 })
      const plantedBase = signRoster(planted, outsider)
      const plantedTop = signRoster(Roster.fromJSON({ ...plantedBase.document, epoch: 1000, signatures: [] }), outsider)
      await writeFile(join(dataDir, 'epochs', epochName(1000)), plantedTop.encode())
      for (const predecessor of ['{"truncated', plantedBase.encode()]) {
        await writeFile(join(dataDir, 'epochs', epochName(999)), predecessor)
        const again = new RosterStore({ dataDir })
        stores.push(again)
        await assert.rejects(again.open(), (err: Error) => err.name === 'RosterRefusedError' && (err as RosterRefusedError).code === 'malformed')
      }
    })

    it('refuses to start on a damaged highest epoch instead of falling back to an older one', async () => {
      const first = store()
      await first.open()
      await writeFile(rosterFile, epoch(2).encode())
      assert.equal(await first.applyFile(), null)
      await first.close()
      const stored = join(dataDir, 'epochs', epochName(2))
      const text = await readFile(stored, 'utf8')
      await writeFile(stored, text.slice(0, text.length / 2))

      const second = new RosterStore({ dataDir })
      stores.push(second)
      await assert.rejects(second.open(), (err: Error) => err.name === 'RosterRefusedError' && (err as RosterRefusedError).code === 'malformed')
      assert.deepEqual(await second.epochs(), [1, 2])
    })
  })

  describe('watch', () => {
    it('applies an epoch written atomically (temp file, then rename)', async () => {
      const s = store()
      await s.open()
      s.watch()
      const event = rosterEvent(s, 2)
      const temp = `${rosterFile}.tmp-${process.pid}`
      await writeFile(temp, epoch(2).encode())
      await rename(temp, rosterFile)
      assert.equal((await event).current.fingerprint, epoch(2).fingerprint)
      assert.equal(s.current.epoch, 2)
    })

    it('applies an epoch written by plain overwrite', async () => {
      const s = store()
      await s.open()
      s.watch()
      const event = rosterEvent(s, 2)
      await writeFile(rosterFile, epoch(2).encode())
      await event
      assert.equal(s.current.epoch, 2)
    })

    it('refuses a bad write, keeps the epoch, then applies the next good one; temp files are never read', async () => {
      const s = store()
      await s.open()
      s.watch()
      const refused = refusedEvent(s, 'threshold-not-met')
      await writeFile(rosterFile, signedBy(Roster.fromJSON({ ...structuredClone(epoch(2).document), signatures: [] }), [ADMINS[2]]).encode())
      await refused
      assert.equal(s.current.epoch, 1)

      await writeFile(`${rosterFile}.456tmp`, epoch(4).encode())
      const applied = rosterEvent(s, 2)
      await writeFile(`${rosterFile}.new`, epoch(2).encode())
      await rename(`${rosterFile}.new`, rosterFile)
      await applied
      assert.equal(s.current.epoch, 2)
      const next = rosterEvent(s, 3)
      await writeFile(rosterFile, epoch(3).encode())
      assert.equal((await next).previous?.epoch, 2)
      await assertStored([1, 2, 3])
    })
  })
})

/** The PeerId the newest revocation of `roster` names. */
function peerOf (roster: Roster): string {
  const last = roster.document.revoked.at(-1)
  assert.ok(last !== undefined && 'peer' in last)
  return last.peer
}
