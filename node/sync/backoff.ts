/** Keys held back at once, at most: a flood of fresh keys cannot grow memory without bound. */
const MAX_HELD = 4096

/** Keys (PeerIds, addresses) not to pull from until a time: peers that did not deliver what they claimed. */
export class Backoff {
  private readonly clock: () => number
  private readonly until = new Map<string, number>()

  constructor (clock: () => number) {
    this.clock = clock
  }

  /** Holds `key` back for `ms`. */
  hold (key: string, ms: number): void {
    const now = this.clock()
    if (this.until.size >= MAX_HELD) {
      for (const [k, at] of this.until) if (at <= now) this.until.delete(k)
      // Still full of live holds: drop the oldest one rather than all of them.
      const oldest = this.until.keys().next().value
      if (this.until.size >= MAX_HELD && oldest !== undefined) this.until.delete(oldest)
    }
    this.until.delete(key)
    this.until.set(key, now + ms)
  }

  /** True while `key` is held back. */
  holds (key: string): boolean {
    return (this.until.get(key) ?? 0) > this.clock()
  }
}
