import { TypedEventEmitter } from 'main-event'
import { diffRosters, MalformedError, Roster, RosterRefusedError } from '../membership/index.ts'
import { judgeEpoch, type EpochStore, type RosterRefusal, type RosterSourceEvents, type RosterUpdate, type TrustRoot } from './roster-source.ts'

/** Accepted epochs a memory store keeps to serve peers. */
const KEPT_EPOCHS = 16

export interface MemoryRosterStoreInit {
  /** Refuse a first epoch that is not this root. Without it the first epoch applied is trusted on first use. */
  trustRoot?: TrustRoot
}

/**
 * Keeps the accepted roster in memory, under the same rules as RosterStore (a first epoch signed by
 * a threshold of its own admins and matching the pinned root, then only higher epochs signed by a
 * threshold of the previous admins), without files: for a browser light client, which ships or
 * fetches its epochs, or an embedder that stores them itself. Nothing survives a reload, so pin a
 * trust root and apply the chain of epochs from it at every start.
 */
export class MemoryRosterStore extends TypedEventEmitter<RosterSourceEvents> implements EpochStore {
  readonly trustRoot: TrustRoot | undefined
  #current: Roster | null = null
  #root: Roster | null = null
  /** The most recent accepted epochs, to serve to peers that are behind. */
  readonly #kept = new Map<number, Roster>()

  constructor (init: MemoryRosterStoreInit = {}) {
    super()
    this.trustRoot = init.trustRoot
  }

  /**
   * A store holding `epochs` applied in order (a chain from the root, or one signed epoch).
   * Throws RosterRefusedError naming the first epoch refused and why.
   */
  static from (epochs: ReadonlyArray<Roster | string>, init: MemoryRosterStoreInit = {}): MemoryRosterStore {
    const store = new MemoryRosterStore(init)
    for (const [i, epoch] of epochs.entries()) {
      const refusal = store.applyNow(typeof epoch === 'string' ? parse(epoch, `epochs[${i}]`) : epoch, `epochs[${i}]`)
      if (refusal !== null) throw new RosterRefusedError(refusal.code, `${refusal.source}: ${refusal.message}`)
    }
    if (store.#current === null) throw new RosterRefusedError('malformed', 'no roster epoch given; pass at least one signed epoch')
    return store
  }

  /** The accepted roster. Throws before the first epoch is accepted. */
  get current (): Roster {
    if (this.#current === null) throw new RosterRefusedError('malformed', 'no accepted roster yet; apply a signed roster epoch first')
    return this.#current
  }

  /** The first accepted epoch: the trust root, pinned or trusted on first use. */
  get root (): Roster {
    if (this.#root === null) throw new RosterRefusedError('malformed', 'no accepted roster yet')
    return this.#root
  }

  /** Applies a roster epoch; returns the refusal, if any (the accepted epoch then stays in force). */
  async apply (next: Roster, source: string): Promise<RosterRefusal | null> {
    return this.applyNow(next, source)
  }

  /** Applies a roster given as JSON text; a text that does not parse is refused as `malformed`. */
  async applyText (text: string, source: string): Promise<RosterRefusal | null> {
    let next: Roster
    try {
      next = Roster.parse(text)
    } catch (err) {
      return this.refuse({ code: 'malformed', message: err instanceof MalformedError ? err.message : String(err), source })
    }
    return this.applyNow(next, source)
  }

  private applyNow (next: Roster, source: string): RosterRefusal | null {
    const previous = this.#current
    const verdict = judgeEpoch(previous, next, this.trustRoot)
    if (verdict === 'unchanged') return null
    if (verdict !== null) return this.refuse({ ...verdict, source })
    this.#current = next
    this.#root ??= next
    this.#kept.set(next.epoch, next)
    while (this.#kept.size > KEPT_EPOCHS) this.#kept.delete(Math.min(...this.#kept.keys()))
    const update: RosterUpdate = { previous, current: next, diff: previous === null ? null : diffRosters(previous, next), source }
    this.safeDispatchEvent('roster', { detail: update })
    return null
  }

  /** The accepted epochs kept in memory (the most recent KEPT_EPOCHS), ascending. */
  async epochs (): Promise<number[]> {
    return [...this.#kept.keys()].sort((a, b) => a - b)
  }

  /** A kept epoch's bytes as it would be stored, or undefined. */
  async epochText (epoch: number): Promise<Uint8Array | undefined> {
    const roster = this.#kept.get(epoch)
    return roster === undefined ? undefined : new TextEncoder().encode(roster.encode())
  }

  /** Records a refusal decided elsewhere: dispatched like the store's own. */
  refuse (refusal: RosterRefusal): RosterRefusal {
    this.safeDispatchEvent('refused', { detail: refusal })
    return refusal
  }
}

function parse (text: string, where: string): Roster {
  try {
    return Roster.parse(text)
  } catch (err) {
    throw new RosterRefusedError('malformed', `${where}: ${err instanceof Error ? err.message : String(err)}`)
  }
}
