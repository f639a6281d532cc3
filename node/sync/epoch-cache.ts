import type { EpochStore } from '../roster-source.ts'

/** Epoch texts kept in memory for serving peers. */
const CACHED_EPOCHS = 4

/**
 * The stored epochs a node serves to peers, read from the data directory once and kept in memory:
 * a node with thousands of peers answers their pulls of a new epoch without a disk read (or a
 * directory listing) per peer. Stored epochs never change, so nothing here goes stale; the list of
 * stored epoch numbers is re-read when the accepted epoch moves.
 */
export class EpochCache {
  private readonly store: EpochStore
  private readonly texts = new Map<number, Uint8Array>()
  private listed: number[] = []
  private listedAt = -1

  constructor (store: EpochStore) {
    this.store = store
  }

  /** Up to `max` stored epochs above `after`, ascending, as their stored bytes. */
  async after (after: number, max: number): Promise<Uint8Array[]> {
    const current = this.store.current.epoch
    if (this.listedAt !== current) {
      this.listed = await this.store.epochs()
      this.listedAt = current
    }
    const out: Uint8Array[] = []
    for (const epoch of this.listed) {
      if (epoch <= after) continue
      if (out.length === max) break
      const bytes = await this.text(epoch)
      if (bytes === undefined) break
      out.push(bytes)
    }
    return out
  }

  private async text (epoch: number): Promise<Uint8Array | undefined> {
    const cached = this.texts.get(epoch)
    if (cached !== undefined) return cached
    const bytes = await this.store.epochText(epoch)
    if (bytes === undefined) return undefined
    this.texts.set(epoch, bytes)
    // Keep the newest: they are the ones peers ask for.
    while (this.texts.size > CACHED_EPOCHS) this.texts.delete(Math.min(...this.texts.keys()))
    return bytes
  }
}
