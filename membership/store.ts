import { EventEmitter } from 'node:events'
import { watch, type FSWatcher } from 'node:fs'
import { mkdir, open, readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { MalformedError, RosterRefusedError } from './errors.ts'
import { acceptRoster, diffRosters, Roster, type RosterDiff } from './roster.ts'
import type { ReasonCode } from './reasons.ts'

export interface RosterUpdate {
  readonly previous: Roster | null
  readonly current: Roster
  readonly diff: RosterDiff | null
  /** Where the epoch came from: a file path, `publish`, or `restart`. */
  readonly source: string
}

export interface RosterRefusal {
  readonly code: ReasonCode
  readonly message: string
  readonly source: string
  readonly epoch?: number
}

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
}

const EPOCH_FILE = /^(\d{12})\.json$/

/**
 * Keeps the accepted roster: every accepted epoch is written to the data directory atomically
 * (temp file, fsync, rename), a restart resumes at the highest one, and a new epoch is applied only
 * when `acceptRoster` allows it. A refused roster never replaces an accepted one.
 */
export class RosterStore extends EventEmitter<{ roster: [RosterUpdate], refused: [RosterRefusal] }> {
  readonly dataDir: string
  readonly rosterFile: string | undefined
  private readonly log: StoreLogger | undefined
  private readonly debounceMs: number
  private currentRoster: Roster | null = null
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private applying: Promise<void> = Promise.resolve()

  constructor (init: RosterStoreInit) {
    super()
    this.dataDir = resolve(init.dataDir)
    this.rosterFile = init.rosterFile === undefined ? undefined : resolve(init.rosterFile)
    this.log = init.log
    this.debounceMs = init.debounceMs ?? 25
  }

  /** The accepted roster. Throws before `open()` has found one. */
  get current (): Roster {
    if (this.currentRoster === null) throw new RosterRefusedError('malformed', `no accepted roster in ${this.dataDir}; start once with a signed roster file`)
    return this.currentRoster
  }

  get epochsDir (): string {
    return join(this.dataDir, 'epochs')
  }

  /**
   * Loads the highest stored epoch, then applies the roster file if it is newer. With an empty data
   * directory, the roster file is pinned as the trust root (it must carry a threshold of signatures
   * by its own admins). Throws when no roster can be accepted at all.
   */
  async open (): Promise<Roster> {
    await mkdir(this.epochsDir, { recursive: true, mode: 0o700 })
    this.currentRoster = await this.loadHighestEpoch()
    if (this.currentRoster !== null) {
      this.log?.info({ event: 'roster-restored', epoch: this.currentRoster.epoch, fingerprint: this.currentRoster.fingerprint }, 'roster restored from data directory')
    }
    if (this.rosterFile !== undefined) {
      const outcome = await this.applyFile(this.rosterFile)
      if (this.currentRoster === null) {
        throw new RosterRefusedError(outcome?.code ?? 'malformed', `no roster accepted: ${outcome?.message ?? 'unknown'} (file ${this.rosterFile})`)
      }
    }
    return this.current
  }

  /** Every accepted epoch number, ascending. */
  async epochs (): Promise<number[]> {
    const names = await readdir(this.epochsDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      throw new RosterRefusedError('storage-error', `cannot read ${this.epochsDir} (${err.code ?? String(err)}); check its permissions`)
    })
    return names.map(n => EPOCH_FILE.exec(n)?.[1]).filter((e): e is string => e !== undefined).map(Number).sort((a, b) => a - b)
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
      return this.refuse({ code: 'malformed', message: `cannot read roster file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, source: file })
    }
    let next: Roster
    try {
      next = Roster.parse(text)
    } catch (err) {
      return this.refuse({ code: 'malformed', message: err instanceof Error ? err.message : String(err), source: file })
    }
    if (this.currentRoster !== null && next.epoch === this.currentRoster.epoch && next.fingerprint === this.currentRoster.fingerprint) {
      return null
    }
    if (this.currentRoster !== null && next.epoch === this.currentRoster.epoch && !next.signed) {
      return null
    }
    return this.apply(next, file)
  }

  /** Watches the roster file (its directory, since atomic replaces change the inode). */
  watch (): void {
    if (this.rosterFile === undefined || this.watcher !== undefined) return
    const name = basename(this.rosterFile)
    this.watcher = watch(dirname(this.rosterFile), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name) return
      clearTimeout(this.timer)
      this.timer = setTimeout(() => {
        this.applyFile().catch(err => this.log?.warn({ event: 'roster-watch-error', err: String(err) }, 'applying the roster file failed'))
      }, this.debounceMs)
    })
    this.watcher.on('error', err => this.log?.warn({ event: 'roster-watch-error', err: String(err) }, 'roster file watch failed'))
  }

  async close (): Promise<void> {
    clearTimeout(this.timer)
    this.watcher?.close()
    this.watcher = undefined
    await this.applying
  }

  private async applyNow (next: Roster, source: string): Promise<RosterRefusal | null> {
    const previous = this.currentRoster
    try {
      acceptRoster(previous, next)
    } catch (err) {
      if (err instanceof RosterRefusedError) {
        if (err.code === 'roster-stale' && previous !== null && next.fingerprint === previous.fingerprint) return null
        return this.refuse({ code: err.code, message: err.detail, source, epoch: next.epoch })
      }
      throw err
    }
    try {
      await writeFileAtomic(this.epochPath(next.epoch), next.encode(), { mode: 0o644, fsync: true })
      await syncDirectory(this.epochsDir)
    } catch (err) {
      return this.refuse({ code: 'storage-error', message: `cannot store epoch ${next.epoch} in ${this.epochsDir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, source, epoch: next.epoch })
    }
    this.currentRoster = next
    const update: RosterUpdate = { previous, current: next, diff: previous === null ? null : diffRosters(previous, next), source }
    this.log?.info({ event: 'roster-accepted', reason: 'ok', epoch: next.epoch, previousEpoch: previous?.epoch ?? null, fingerprint: next.fingerprint, source, drops: update.diff?.drops ?? [] }, 'roster epoch accepted')
    this.emit('roster', update)
    return null
  }

  private refuse (refusal: RosterRefusal): RosterRefusal {
    this.log?.warn({ event: 'roster-refused', reason: refusal.code, epoch: refusal.epoch, source: refusal.source, detail: refusal.message, keptEpoch: this.currentRoster?.epoch ?? null }, 'roster refused; keeping the accepted epoch')
    this.emit('refused', refusal)
    return refusal
  }

  /** Where epoch `epoch` is stored. */
  epochPath (epoch: number): string {
    return join(this.epochsDir, `${String(epoch).padStart(12, '0')}.json`)
  }

  /**
   * The highest stored epoch, after checking the whole stored chain: the lowest epoch against its
   * own admin set, each later one against the one before it. A damaged or altered epoch stops the
   * node rather than letting it fall back to an older epoch (which could resurrect revoked
   * members) or trust an epoch no threshold of admins signed.
   */
  private async loadHighestEpoch (): Promise<Roster | null> {
    let previous: Roster | null = null
    for (const epoch of await this.epochs()) {
      let roster: Roster | undefined
      try {
        roster = await this.epoch(epoch)
      } catch (err) {
        throw new RosterRefusedError('malformed', `stored epoch ${this.epochPath(epoch)} is damaged (${err instanceof Error ? err.message : String(err)}); restore the epochs directory from a backup or from another node of the federation`)
      }
      if (roster === undefined || roster.epoch !== epoch) {
        throw new RosterRefusedError('malformed', `stored epoch file ${this.epochPath(epoch)} does not hold epoch ${epoch}; restore the epochs directory from a backup or from another node of the federation`)
      }
      try {
        acceptRoster(previous, roster)
      } catch (err) {
        const after = previous === null ? 'as the first stored epoch' : `after epoch ${previous.epoch}`
        throw new RosterRefusedError('malformed', `stored epoch ${this.epochPath(epoch)} is not valid ${after} (${err instanceof Error ? err.message : String(err)}); the data directory was altered: restore the epochs directory from a backup or from another node`)
      }
      previous = roster
    }
    return previous
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
