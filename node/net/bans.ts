/**
 * Growing temporary bans for remote IPs whose handshakes keep proving they are not members. A ban
 * never cuts a connection outright (a member may share the address): it shrinks the IP's share of
 * pending handshakes and makes its plain-Noise dialers cost no Noise work (see PendingHandshakes).
 */
export interface BanPolicy {
  /** Refusals of one IP within `windowMs` that earn a ban. @default 10 */
  failures: number
  /** @default 60_000 */
  windowMs: number
  /** First ban; each further ban of the same IP doubles it. @default 30_000 */
  baseBanMs: number
  /** @default 3_600_000 */
  maxBanMs: number
}

export const DEFAULT_BAN_POLICY: BanPolicy = Object.freeze({ failures: 10, windowMs: 60_000, baseBanMs: 30_000, maxBanMs: 3_600_000 })

/** Tracked IPs are capped so a flood of addresses cannot grow memory without bound. */
const MAX_TRACKED_IPS = 65_536

interface IpRecord {
  failures: number[]
  bans: number
  bannedUntil: number
}

export class BanList {
  readonly policy: BanPolicy
  private readonly ips = new Map<string, IpRecord>()

  constructor (policy: Partial<BanPolicy> = {}) {
    this.policy = { ...DEFAULT_BAN_POLICY, ...policy }
  }

  isBanned (ip: string, now: number): boolean {
    const record = this.ips.get(ip)
    return record !== undefined && record.bannedUntil > now
  }

  /** IPs banned at `now`, with when each ban ends. */
  banned (now: number): Array<{ ip: string, until: number }> {
    const out: Array<{ ip: string, until: number }> = []
    for (const [ip, record] of this.ips) if (record.bannedUntil > now) out.push({ ip, until: record.bannedUntil })
    return out
  }

  /** Records a refusal that proves the IP's peer is not a member; returns the ban length in ms when it earns one. */
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
