import type { MultiaddrConnection } from '@libp2p/interface'
import type { Limits, ReasonCode } from '../../membership/index.ts'
import { unrefTimer } from '../timers.ts'
import type { Refusal } from '../types.ts'
import type { BanList } from './bans.ts'
import { ipOf } from './ip.ts'

export interface PendingHandshakesInit {
  readonly limits: () => Limits
  readonly bans: BanList | null
  readonly clock: () => number
  /** `feedsBan`: the refusal counts toward the IP's ban although its code alone does not prove an outsider. */
  readonly record: (refusal: Omit<Refusal, 'at'>, opts?: { feedsBan?: boolean }) => void
}

interface Pending {
  readonly key: string
  readonly ip: string
  readonly conn: MultiaddrConnection
  readonly at: number
  /** What the connection has shown: 0 nothing yet, 1 plain Noise, 2 fedgate's own protocol. */
  shown: 0 | 1 | 2
  timer: NodeJS.Timeout | undefined
}

/** Handshakes a banned IP may have in progress at once; its newest arrival still takes a place. */
export const BANNED_PENDING_PER_IP = 2

/**
 * Inbound handshakes in progress, counted per remote IP, decided at TCP accept before any handshake
 * work. It is fair by design, so that a flood never locks out a member, even one behind the same
 * address (a NAT, a cloud egress, a host running several nodes):
 * - when an IP holds its share (`maxPendingHandshakesPerIp`, or BANNED_PENDING_PER_IP for a banned
 *   IP), its newest connection takes the place of one of its unfinished ones: the oldest of those
 *   that have not yet chosen an encryption protocol, else the oldest plain-Noise one, else the
 *   oldest that chose fedgate's protocol. A member chooses fedgate's protocol in its first round
 *   trip and finishes in a few more, so a flood of silent or stock sockets from its address takes
 *   each other's places, not the member's;
 * - when the node-wide cap is full, a newcomer takes the place of a handshake of the IP holding
 *   the most, chosen the same way (never of an IP holding fewer than the newcomer's would), so a
 *   flood from a few addresses cannot keep out an address it does not control;
 * - a connection must choose its encryption protocol within `firstBytesTimeout`, so a socket that
 *   never sends a byte is cut in seconds, not at the end of the handshake deadline.
 * Bans never cut a connection here: a banned IP keeps a small share, and the outsider encrypter
 * turns away its plain-Noise dialers before any Noise work. Every cut is recorded as a refusal
 * (logged, counted; a missed deadline, which proves nothing about membership but costs a socket,
 * also feeds the IP's ban count).
 */
export class PendingHandshakes {
  private readonly init: PendingHandshakesInit
  private readonly byKey = new Map<string, Pending>()
  private readonly byIp = new Map<string, Set<Pending>>()

  constructor (init: PendingHandshakesInit) {
    this.init = init
  }

  /** Called at TCP accept; false to cut the connection at once. */
  admit (conn: MultiaddrConnection): boolean {
    const { limits, bans, clock } = this.init
    const remoteAddr = conn.remoteAddr.toString()
    const ip = ipOf(remoteAddr) ?? remoteAddr
    const now = clock()
    const { maxPendingHandshakes, maxPendingHandshakesPerIp, firstBytesTimeoutMs } = limits()
    const share = bans?.isBanned(ip, now) === true ? Math.min(BANNED_PENDING_PER_IP, maxPendingHandshakesPerIp) : maxPendingHandshakesPerIp
    const own = this.byIp.get(ip)
    if (own !== undefined && own.size >= share) {
      const weakest = weakestOf(own)
      if (weakest !== undefined) this.cut(weakest, 'rate-limited')
    } else if (this.byKey.size >= maxPendingHandshakes && !this.evictFor((own?.size ?? 0) + 1)) {
      return this.refuse('rate-limited', remoteAddr)
    }
    const entry: Pending = { key: remoteAddr, ip, conn, at: now, shown: 0, timer: undefined }
    entry.timer = setTimeout(() => { this.missedDeadline(entry) }, firstBytesTimeoutMs)
    unrefTimer(entry.timer)
    this.byKey.set(remoteAddr, entry)
    let set = this.byIp.get(ip)
    if (set === undefined) {
      set = new Set()
      this.byIp.set(ip, set)
    }
    set.add(entry)
    conn.addEventListener('close', () => { this.done(remoteAddr) }, { once: true })
    return true
  }

  /**
   * The connection from `remoteAddr` chose its encryption protocol, fedgate's or plain Noise: its
   * first-bytes deadline is met.
   */
  negotiated (remoteAddr: string | undefined, protocol: 'fedgate' | 'plain-noise'): void {
    const entry = remoteAddr === undefined ? undefined : this.byKey.get(remoteAddr)
    if (entry === undefined) return
    entry.shown = protocol === 'fedgate' ? 2 : 1
    clearTimeout(entry.timer)
  }

  /** The handshake of `remoteAddr` ended, either way. */
  done (remoteAddr: string | undefined): void {
    const entry = remoteAddr === undefined ? undefined : this.byKey.get(remoteAddr)
    if (entry === undefined) return
    clearTimeout(entry.timer)
    this.byKey.delete(entry.key)
    const set = this.byIp.get(entry.ip)
    set?.delete(entry)
    if (set?.size === 0) this.byIp.delete(entry.ip)
  }

  /** Handshakes in progress, node-wide and for the IPs holding the most. */
  stats (top = 10): { pending: number, byIp: Array<{ ip: string, pending: number }> } {
    const byIp = [...this.byIp].map(([ip, set]) => ({ ip, pending: set.size })).sort((a, b) => b.pending - a.pending).slice(0, top)
    return { pending: this.byKey.size, byIp }
  }

  /** Frees a place for a newcomer whose IP would then hold `wouldHold`; false when fairness forbids it. */
  private evictFor (wouldHold: number): boolean {
    let victim: Pending | undefined
    let victimHeld = 0
    for (const set of this.byIp.values()) {
      const weakest = weakestOf(set)
      if (weakest === undefined) continue
      if (set.size > victimHeld || (set.size === victimHeld && victim !== undefined && yieldsBefore(weakest, victim))) {
        victim = weakest
        victimHeld = set.size
      }
    }
    if (victim === undefined || victimHeld < wouldHold) return false
    this.cut(victim, 'rate-limited')
    return true
  }

  private missedDeadline (entry: Pending): void {
    if (entry.shown === 0 && this.byKey.get(entry.key) === entry) this.cut(entry, 'handshake-timeout')
  }

  private cut (entry: Pending, code: ReasonCode): void {
    this.done(entry.key)
    // A socket that sent nothing and lost its place to a newer one from its own address is part of
    // a flood from that address (a member's dialer chooses its protocol in its first round trip):
    // it counts toward the ban, as it would have at the first-bytes deadline.
    const silent = code === 'rate-limited' && entry.shown === 0
    this.init.record({ code, by: 'local', stage: 'accept', direction: 'inbound', remoteAddr: entry.key }, { feedsBan: silent })
    entry.conn.abort(new Error(`fedgate: ${code}`))
  }

  private refuse (code: ReasonCode, remoteAddr: string): false {
    this.init.record({ code, by: 'local', stage: 'accept', direction: 'inbound', remoteAddr })
    return false
  }
}

/** True when `a` gives up its place before `b`: it has shown less, or as much and arrived sooner. */
function yieldsBefore (a: Pending, b: Pending): boolean {
  return a.shown !== b.shown ? a.shown < b.shown : a.at < b.at
}

/** The entry of one IP that gives up its place first (a set iterates in arrival order). */
function weakestOf (set: Set<Pending>): Pending | undefined {
  let weakest: Pending | undefined
  for (const entry of set) {
    if (weakest === undefined || entry.shown < weakest.shown) weakest = entry
    if (weakest.shown === 0) break
  }
  return weakest
}
