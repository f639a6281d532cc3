import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { TypedEventEmitter } from 'main-event'
import writeFileAtomic from 'write-file-atomic'
import {
  acceptRoster, diffRosters, MalformedError, Roster, RosterRefusedError
} from '../../membership/index.ts'
import { judgeEpoch, matchesRoot, type RosterRefusal, type EpochStore, type RosterSourceEvents, type RosterUpdate, type TrustRoot } from '../roster-source.ts'
import { followRosterFile } from './roster-file-follow.ts'
import { watchFile, type FileWatch } from './watch.ts'

export { matchesRoot, type RosterRefusal, type RosterUpdate, type TrustRoot }

/** Minimal structured logger (pino-compatible). */
export interface StoreLogger {
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
}

export interface RosterStoreInit {
  /** Directory holding every accepted epoch (`epochs/<epoch>.json`). Created if missing. */
  dataDir: string
  /** Roster file the operator edits; applied on open and, with `watch()`, on every change. */
  rosterFile?: string
  log?: StoreLogger
  /** Settle time after a file event before reading, so bursts of events apply once. @default 25 */
  debounceMs?: number
  /** Refuse any chain not rooted here. Without it the first roster is trusted on first use. */
  trustRoot?: TrustRoot
  /**
   * Rewrite the roster file (atomically) to each epoch accepted from elsewhere (publish, a peer),
   * so the file and the node agree and a restart does not refuse the file as stale. A file that
   * holds the same or a newer epoch (a draft being signed) or is not a roster is left alone. @default true
   */
  followRosterFile?: boolean
}

export interface RosterStoreOpenOptions {
  /**
   * Accept epochs in memory only, until `commit()`: a start that fails after open (a bad key or
   * credential) then leaves nothing in the data directory. @default false
   */
  deferWrites?: boolean
}

export type RosterStoreEvents = RosterSourceEvents

/** Stored epochs are named by their number, zero-padded to the digits of Number.MAX_SAFE_INTEGER. */
const EPOCH_DIGITS = 16
const EPOCH_FILE = /^(\d{16})\.json$/
/** Anything that looks like a stored epoch (digits.json) but is not named as one: written by another version, or planted. */
const EPOCH_LIKE = /^\d+\.json$/
/** Names of an earlier version (12 digits), renamed on open. */
const LEGACY_EPOCH_FILE = /^(\d{12})\.json$/

/**
 * Keeps the accepted roster: every accepted epoch is written to the data directory atomically
 * (temp file, fsync, rename), a restart resumes at the highest one, and a new epoch is applied only
 * when `acceptRoster` allows it. A refused roster never replaces an accepted one.
 */
export class RosterStore extends TypedEventEmitter<RosterStoreEvents> implements EpochStore {
  readonly dataDir: string
  readonly rosterFile: string | undefined
  readonly trustRoot: TrustRoot | undefined
  private readonly log: StoreLogger | undefined
  private readonly debounceMs: number
  private readonly followRosterFile: boolean
  /** Epochs accepted but not yet written, while writes are deferred (between open and commit). */
  private deferred: Roster[] | null = null
  private currentRoster: Roster | null = null
  private rootRoster: Roster | null = null
  private watcher: FileWatch | undefined
  private applying: Promise<void> = Promise.resolve()

  constructor (init: RosterStoreInit) {
    super()
    this.dataDir = resolve(init.dataDir)
    this.rosterFile = init.rosterFile === undefined ? undefined : resolve(init.rosterFile)
    this.trustRoot = init.trustRoot
    this.log = init.log
    this.debounceMs = init.debounceMs ?? 25
    this.followRosterFile = init.followRosterFile ?? true
  }

  /** The accepted roster. Throws before `open()` has found one. */
  get current (): Roster {
    if (this.currentRoster === null) throw new RosterRefusedError('malformed', `no accepted roster in ${this.dataDir}; start once with a signed roster file`)
    return this.currentRoster
  }

  /** The first epoch of the stored chain: the trust root, pinned or trusted on first use. */
  get root (): Roster {
    if (this.rootRoster === null) throw new RosterRefusedError('malformed', `no accepted roster in ${this.dataDir}`)
    return this.rootRoster
  }

  get epochsDir (): string {
    return join(this.dataDir, 'epochs')
  }

  /**
   * Loads the highest stored epoch, then applies the roster file if it is newer. With an empty data
   * directory, the roster file becomes the trust root: it must match `trustRoot` when one is pinned,
   * and carry a threshold of signatures by its own admins. Throws when no roster can be accepted.
   */
  async open (opts: RosterStoreOpenOptions = {}): Promise<Roster> {
    if (opts.deferWrites === true) this.deferred = []
    await mkdir(this.epochsDir, { recursive: true, mode: 0o700 })
    await this.renameLegacyEpochs()
    const chain = await this.loadStoredChain()
    if (chain !== null && this.trustRoot !== undefined && !matchesRoot(chain.root, this.trustRoot)) {
      await this.setAsideUntrusted(chain.root)
    } else if (chain !== null) {
      this.rootRoster = chain.root
      this.currentRoster = chain.current
      this.log?.info({ event: 'roster-restored', epoch: chain.current.epoch, fingerprint: chain.current.fingerprint }, 'roster restored from data directory')
    }
    if (this.rosterFile !== undefined) {
      const outcome = await this.applyFile(this.rosterFile)
      if (this.currentRoster === null) {
        throw new RosterRefusedError(outcome?.code ?? 'malformed', `no roster accepted: ${outcome?.message ?? 'unknown'} (file ${this.rosterFile})`)
      }
      if (this.deferred === null) await this.followFile(this.currentRoster, 'restart')
    }
    return this.current
  }

  /**
   * Writes the epochs accepted since `open({ deferWrites: true })` to the data directory, in order,
   * and from then on writes each epoch as it is accepted. Throws when one cannot be written.
   */
  async commit (): Promise<void> {
    const run = this.applying.then(async () => {
      const pending = this.deferred ?? []
      this.deferred = null
      for (const roster of pending) await this.store(roster)
      const current = this.currentRoster
      if (current !== null) await this.followFile(current, 'commit')
    })
    this.applying = run.then(() => undefined, () => undefined)
    await run
  }

  /** Every accepted epoch number, ascending. */
  async epochs (): Promise<number[]> {
    const names = await readdir(this.epochsDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      throw new RosterRefusedError('storage-error', `cannot read ${this.epochsDir} (${err.code ?? String(err)}); check its permissions`)
    })
    const epochs: number[] = []
    for (const name of names) {
      const match = EPOCH_FILE.exec(name)
      if (match !== null) epochs.push(Number(match[1]))
      else if (EPOCH_LIKE.test(name)) {
        throw new RosterRefusedError('malformed', `${join(this.epochsDir, name)} is not a stored epoch name this node writes; move it out of the epochs directory, or restore the directory from a backup`)
      }
    }
    return epochs.sort((a, b) => a - b)
  }

  /** A stored epoch, or undefined when this store never accepted it. */
  async epoch (epoch: number): Promise<Roster | undefined> {
    const text = await readFile(this.epochPath(epoch), 'utf8').catch(() => undefined)
    return text === undefined ? undefined : Roster.parse(text)
  }

  /** A stored epoch's bytes as written, or undefined when this store never accepted it. */
  async epochText (epoch: number): Promise<Uint8Array | undefined> {
    return readFile(this.epochPath(epoch)).catch(() => undefined)
  }

  /** Applies a roster given as text (e.g. published over the admin endpoint). Returns the refusal, if any. */
  async applyText (text: string, source: string): Promise<RosterRefusal | null> {
    let next: Roster
    try {
      next = Roster.parse(text)
    } catch (err) {
      return this.refuse({ code: 'malformed', message: err instanceof MalformedError ? err.message : String(err), source })
    }
    return this.apply(next, source)
  }

  /** Applies a parsed roster epoch, serialised with every other apply. */
  async apply (next: Roster, source: string): Promise<RosterRefusal | null> {
    const run = this.applying.then(async () => this.applyNow(next, source))
    this.applying = run.then(() => undefined, () => undefined)
    return run
  }

  /** Re-reads the roster file now (SIGHUP, or a file event). */
  async applyFile (file: string = this.rosterFile ?? ''): Promise<RosterRefusal | null> {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      return this.refuse({ code: 'unreadable', message: `cannot read roster file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, source: file })
    }
    let next: Roster
    try {
      next = Roster.parse(text)
    } catch (err) {
      return this.refuse({ code: 'malformed', message: err instanceof Error ? err.message : String(err), source: file })
    }
    const current = this.currentRoster
    if (current !== null && next.epoch === current.epoch && (next.fingerprint === current.fingerprint || !next.signed)) return null
    return this.apply(next, file)
  }

  /** Watches the roster file; every settled change is applied. */
  watch (): void {
    if (this.rosterFile === undefined || this.watcher !== undefined) return
    this.watcher = watchFile(this.rosterFile, () => {
      this.applyFile().catch(err => this.log?.warn({ event: 'roster-watch-error', err: String(err) }, 'applying the roster file failed'))
    }, {
      debounceMs: this.debounceMs,
      onError: err => { this.log?.warn({ event: 'roster-watch-error', err: String(err) }, 'roster file watch failed') }
    })
  }

  async close (): Promise<void> {
    this.watcher?.close()
    this.watcher = undefined
    await this.applying
  }

  /** Where epoch `epoch` is stored. */
  epochPath (epoch: number): string {
    return join(this.epochsDir, `${String(epoch).padStart(EPOCH_DIGITS, '0')}.json`)
  }

  private async applyNow (next: Roster, source: string): Promise<RosterRefusal | null> {
    const previous = this.currentRoster
    const verdict = judgeEpoch(previous, next, this.trustRoot)
    if (verdict === 'unchanged') return null
    if (verdict !== null) return this.refuse({ ...verdict, source })
    if (this.deferred !== null) {
      this.deferred.push(next)
    } else {
      try {
        await this.store(next)
      } catch (err) {
        return this.refuse({ code: 'storage-error', message: `cannot store epoch ${next.epoch} in ${this.epochsDir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, source, epoch: next.epoch })
      }
    }
    this.currentRoster = next
    this.rootRoster ??= next
    const update: RosterUpdate = { previous, current: next, diff: previous === null ? null : diffRosters(previous, next), source }
    this.log?.info({ event: 'roster-accepted', reason: 'ok', epoch: next.epoch, previousEpoch: previous?.epoch ?? null, fingerprint: next.fingerprint, source, drops: update.diff?.drops ?? [] }, 'roster epoch accepted')
    this.safeDispatchEvent('roster', { detail: update })
    if (this.deferred === null && source !== this.rosterFile) await this.followFile(next, source)
    return null
  }

  private async followFile (accepted: Roster, source: string): Promise<void> {
    if (this.rosterFile !== undefined && this.followRosterFile) await followRosterFile(this.rosterFile, accepted, source, this.log)
  }

  private async store (roster: Roster): Promise<void> {
    await writeFileAtomic(this.epochPath(roster.epoch), roster.encode(), { mode: 0o644, fsync: true })
    await syncDirectory(this.epochsDir)
  }


  /** Records a refusal decided elsewhere (a check off the main thread): logged and dispatched like the store's own. */
  refuse (refusal: RosterRefusal): RosterRefusal {
    this.log?.warn({ event: 'roster-refused', reason: refusal.code, epoch: refusal.epoch, source: refusal.source, detail: refusal.message, keptEpoch: this.currentRoster?.epoch ?? null }, 'roster refused; keeping the accepted epoch')
    this.safeDispatchEvent('refused', { detail: refusal })
    return refusal
  }

  /** Renames epochs stored under an earlier version's 12-digit names. */
  private async renameLegacyEpochs (): Promise<void> {
    for (const name of await readdir(this.epochsDir)) {
      const match = LEGACY_EPOCH_FILE.exec(name)
      if (match !== null) await rename(join(this.epochsDir, name), this.epochPath(Number(match[1])))
    }
    await syncDirectory(this.epochsDir)
  }

  /**
   * The stored chain, checked whole: the lowest epoch against its own admin set, each later one
   * against the one before it. A damaged, unreadable or altered epoch stops the node rather than
   * letting it fall back to an older epoch (which could resurrect revoked members) or trust an
   * epoch no threshold of admins signed.
   */
  private async loadStoredChain (): Promise<{ root: Roster, current: Roster } | null> {
    let root: Roster | null = null
    let previous: Roster | null = null
    for (const epoch of await this.epochs()) {
      const file = this.epochPath(epoch)
      let roster: Roster | undefined
      try {
        roster = Roster.parse(await readFile(file, 'utf8'))
      } catch (err) {
        throw new RosterRefusedError('malformed', `stored epoch ${file} is unreadable or damaged (${err instanceof Error ? err.message : String(err)}); restore the epochs directory from a backup or from another node of the federation`)
      }
      if (roster.epoch !== epoch) {
        throw new RosterRefusedError('malformed', `stored epoch file ${file} does not hold epoch ${epoch}; restore the epochs directory from a backup or from another node of the federation`)
      }
      try {
        acceptRoster(previous, roster)
      } catch (err) {
        const after = previous === null ? 'as the first stored epoch' : `after epoch ${previous.epoch}`
        throw new RosterRefusedError('malformed', `stored epoch ${file} is not valid ${after} (${err instanceof Error ? err.message : String(err)}); the data directory was altered: restore the epochs directory from a backup or from another node`)
      }
      root ??= roster
      previous = roster
    }
    return root === null || previous === null ? null : { root, current: previous }
  }

  /** Moves a stored chain that does not start at the pinned root out of the way, and says so. */
  private async setAsideUntrusted (root: Roster): Promise<void> {
    const aside = join(this.dataDir, `epochs.untrusted-${Date.now()}`)
    await rename(this.epochsDir, aside)
    await mkdir(this.epochsDir, { recursive: true, mode: 0o700 })
    await syncDirectory(this.dataDir)
    this.log?.warn({ event: 'roster-root-untrusted', reason: 'untrusted-root', federation: root.federation, epoch: root.epoch, fingerprint: root.fingerprint, movedTo: aside }, 'stored epochs do not chain to the pinned trust root; set them aside and start from the roster file')
  }
}

/** Makes a rename in `dir` durable: without it a power loss can undo the newest stored epoch. */
async function syncDirectory (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
