/** Growing temporary bans for remote IPs that keep failing the membership exchange. */
export interface BanPolicy {
  /** Failed handshakes from one IP within `windowMs` that earn a ban. @default 10 */
  failures: number
  /** @default 60_000 */
  windowMs: number
  /** First ban; each further ban of the same IP doubles it. @default 30_000 */
  baseBanMs: number
  /** @default 3_600_000 */
  maxBanMs: number
}

export const DEFAULT_BAN_POLICY: BanPolicy = { failures: 10, windowMs: 60_000, baseBanMs: 30_000, maxBanMs: 3_600_000 }

/** Tracked IPs are capped so a flood of addresses cannot grow memory without bound. */
const MAX_TRACKED_IPS = 65_536

interface Record {
  failures: number[]
  bans: number
  bannedUntil: number
}

export class BanList {
  private readonly policy: BanPolicy
  private readonly ips = new Map<string, Record>()

  constructor (policy: Partial<BanPolicy> = {}) {
    this.policy = { ...DEFAULT_BAN_POLICY, ...policy }
  }

  isBanned (ip: string, now: number): boolean {
    const record = this.ips.get(ip)
    return record !== undefined && record.bannedUntil > now
  }

  /** Records a failed handshake; returns the ban length in ms when this failure earns a ban. */
  fail (ip: string, now: number): number {
    let record = this.ips.get(ip)
    if (record === undefined) {
      if (this.ips.size >= MAX_TRACKED_IPS) this.prune(now)
      record = { failures: [], bans: 0, bannedUntil: 0 }
      this.ips.set(ip, record)
    }
    record.failures = record.failures.filter(t => now - t < this.policy.windowMs)
    record.failures.push(now)
    if (record.failures.length < this.policy.failures) return 0
    const banMs = Math.min(this.policy.baseBanMs * 2 ** record.bans, this.policy.maxBanMs)
    record.bans++
    record.failures = []
    record.bannedUntil = now + banMs
    return banMs
  }

  private prune (now: number): void {
    for (const [ip, record] of this.ips) {
      if (record.bannedUntil <= now && record.failures.every(t => now - t >= this.policy.windowMs)) this.ips.delete(ip)
    }
    if (this.ips.size >= MAX_TRACKED_IPS) this.ips.clear()
  }
}
