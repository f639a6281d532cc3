import type { Connection } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Roster } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import type { GateLog } from '../telemetry.ts'
import { refusalOf } from '../net/refusal.ts'
import { unrefTimer } from '../timers.ts'
import { targets } from './topology.ts'

/** First redial delay after a failed dial or a lost connection. */
export const REDIAL_MIN_MS = 1_000
/** Redial delays double up to this cap. */
export const REDIAL_MAX_MS = 30_000
/** A connection that lived this long resets the backoff: the peer was healthy. */
const STABLE_CONNECTION_MS = 60_000
/** Each delay is spread by up to ±this fraction, so a federation restarting together does not dial in lockstep. */
const JITTER = 0.2
/** Failed dials after which a member counts as failing, so a rule with a count may choose another. */
const FAILING_AFTER = 3
/**
 * When two members must each reach the other (validators in a full mesh), the one with the lower
 * member id dials at once and the other waits this long first, so the pair ends up with one
 * connection, not two; if the first dial never comes, the second still does.
 */
export const MUTUAL_DIAL_DELAY_MS = 3_000

/** A reserved address from the config: pinned to a PeerId (its /p2p/ part) or to the roster member that lists it. */
export interface ReservedAddress {
  readonly addr: string
  readonly memberId?: string
}

/** What `/status` shows of one reserved peer. */
export interface ReservedPeerStatus {
  readonly memberId: string | undefined
  readonly addrs: readonly string[]
  /** `roster` for peers the topology requires, `config` for the config's extra `dial` addresses. */
  readonly source: 'roster' | 'config'
  readonly connected: boolean
  readonly failures: number
  /** Delay before the next dial, when one is scheduled. */
  readonly retryInMs: number | undefined
  readonly lastError: string | undefined
}

export interface PeerManagerInit {
  readonly roster: () => Roster
  readonly self: () => { readonly memberId: string, readonly roles: readonly string[] }
  /** The member admitted on `connection`, if any. */
  readonly memberOf: (connection: Connection) => string | undefined
  /** Whether any admitted connection of `memberId` (or, for a PeerId pin, of that PeerId) is open. */
  readonly connectedTo: (pin: { memberId?: string, peerId?: string }) => boolean
  readonly dial: (addr: Multiaddr, signal: AbortSignal) => Promise<Connection>
  readonly log: GateLog
  readonly clock: () => number
  /** Extra addresses to keep connected (the config's `dial`). */
  readonly extra?: readonly ReservedAddress[]
  readonly minBackoffMs?: number
  readonly maxBackoffMs?: number
  /** Dial timeout. @default 10 s */
  readonly dialTimeoutMs?: number
}

interface Entry {
  readonly key: string
  readonly source: 'roster' | 'config'
  readonly memberId: string | undefined
  readonly peerId: string | undefined
  addrs: readonly string[]
  backoffMs: number
  failures: number
  dialing: boolean
  timer: ReturnType<typeof setTimeout> | undefined
  retryAt: number | undefined
  connectedAt: number | undefined
  lastError: string | undefined
}

/**
 * Keeps this node connected to the peers it must reach: the members the roster's topology table
 * names for its roles (every validator for a validator, a few validators of distinct organisations
 * for a relayer, and so on), dialled at their roster addresses, plus the config's extra `dial`
 * addresses. Each is redialled with backoff and jitter whenever it is not connected, and the set
 * follows every new roster epoch. Whoever answers at a member's address as another member is not
 * kept. The slots treat these peers as reserved: they always find room and are never evicted.
 */
export class PeerManager {
  private readonly init: PeerManagerInit
  private readonly entries = new Map<string, Entry>()
  private reserved = new Set<string>()
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number
  private stopped = true

  constructor (init: PeerManagerInit) {
    this.init = init
    this.minBackoffMs = init.minBackoffMs ?? REDIAL_MIN_MS
    this.maxBackoffMs = init.maxBackoffMs ?? REDIAL_MAX_MS
  }

  start (): void {
    this.stopped = false
    this.refresh()
  }

  stop (): void {
    this.stopped = true
    for (const entry of this.entries.values()) clearTimeout(entry.timer)
  }

  /** True when `memberId` is one this node must reach. */
  isReserved (memberId: string): boolean {
    return this.reserved.has(memberId)
  }

  /** Recomputes the reserved set (start, a new roster epoch, a member found failing) and dials what is missing. */
  refresh (): void {
    if (this.stopped) return
    const self = this.init.self()
    const failing = new Set([...this.entries.values()].filter(e => e.failures >= FAILING_AFTER && e.memberId !== undefined).map(e => e.memberId ?? ''))
    const connected = new Set([...this.entries.values()].filter(e => e.memberId !== undefined && this.connected(e)).map(e => e.memberId ?? ''))
    const wanted = new Map<string, Omit<Entry, 'backoffMs' | 'failures' | 'dialing' | 'timer' | 'retryAt' | 'connectedAt' | 'lastError'>>()
    const roster = this.init.roster()
    const mutual = new Set<string>()
    for (const t of targets({ roster, memberId: self.memberId, roles: self.roles, connected, failing }).values()) {
      wanted.set(`member:${t.memberId}`, { key: `member:${t.memberId}`, source: 'roster', memberId: t.memberId, peerId: undefined, addrs: t.addrs })
      if (t.memberId > self.memberId && mustReach(roster, t.memberId, self)) mutual.add(t.memberId)
    }
    for (const { addr, memberId } of this.init.extra ?? []) {
      // A config address of a member the roster already makes a target is one more address to reach
      // it at, not a second connection to keep.
      const target = memberId === undefined ? undefined : wanted.get(`member:${memberId}`)
      if (target !== undefined) {
        if (!target.addrs.includes(addr)) wanted.set(target.key, { ...target, addrs: [...target.addrs, addr] })
        continue
      }
      const peerId = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value
      wanted.set(`addr:${addr}`, { key: `addr:${addr}`, source: 'config', memberId, peerId, addrs: [addr] })
    }
    for (const [key, entry] of this.entries) {
      if (!wanted.has(key)) {
        clearTimeout(entry.timer)
        this.entries.delete(key)
      }
    }
    for (const [key, want] of wanted) {
      const entry = this.entries.get(key)
      if (entry !== undefined) {
        entry.addrs = want.addrs
        continue
      }
      const added: Entry = { ...want, backoffMs: this.minBackoffMs, failures: 0, dialing: false, timer: undefined, retryAt: undefined, connectedAt: undefined, lastError: undefined }
      this.entries.set(key, added)
      if (want.memberId !== undefined && mutual.has(want.memberId)) this.wait(added, MUTUAL_DIAL_DELAY_MS)
    }
    this.reserved = new Set([...this.entries.values()].flatMap(e => e.memberId === undefined ? [] : [e.memberId]))
    for (const entry of this.entries.values()) {
      if (!this.connected(entry) && !entry.dialing && entry.timer === undefined) void this.dial(entry)
    }
  }

  /** A connection of `memberId` (or `peerId`) closed: redial what is now unconnected. */
  disconnected (peer: { memberId?: string, peerId: string }): void {
    for (const entry of this.entries.values()) {
      const affected = (entry.memberId !== undefined && entry.memberId === peer.memberId) || (entry.peerId !== undefined && entry.peerId === peer.peerId)
      if (!affected || this.connected(entry)) continue
      if (entry.connectedAt !== undefined && this.init.clock() - entry.connectedAt >= STABLE_CONNECTION_MS) entry.backoffMs = this.minBackoffMs
      entry.connectedAt = undefined
      this.schedule(entry)
    }
  }

  /** The reserved peers and their health, for `/status`. */
  status (): ReservedPeerStatus[] {
    const now = this.init.clock()
    return [...this.entries.values()].map(e => ({
      memberId: e.memberId,
      addrs: e.addrs,
      source: e.source,
      connected: this.connected(e),
      failures: e.failures,
      retryInMs: e.retryAt === undefined ? undefined : Math.max(0, e.retryAt - now),
      lastError: e.lastError
    }))
  }

  private connected (entry: Entry): boolean {
    return this.init.connectedTo({ ...(entry.memberId === undefined ? {} : { memberId: entry.memberId }), ...(entry.peerId === undefined ? {} : { peerId: entry.peerId }) })
  }

  private async dial (entry: Entry): Promise<void> {
    entry.timer = undefined
    entry.retryAt = undefined
    if (this.stopped || entry.dialing || this.connected(entry)) return
    entry.dialing = true
    try {
      if (entry.addrs.length === 0) {
        entry.lastError = 'the roster lists no address for this member; it must dial in'
        return
      }
      for (const addr of entry.addrs) {
        const outcome = await this.dialOne(entry, addr)
        if (outcome === null) {
          entry.connectedAt = this.init.clock()
          entry.lastError = undefined
          entry.failures = 0
          return
        }
        entry.lastError = outcome
      }
      entry.failures++
      this.schedule(entry)
      if (entry.failures === FAILING_AFTER && entry.source === 'roster') this.refresh()
    } finally {
      entry.dialing = false
    }
  }

  /** One dial; null when it reached the expected peer, else why not. */
  private async dialOne (entry: Entry, addr: string): Promise<string | null> {
    const { log, memberOf } = this.init
    let connection: Connection
    try {
      connection = await this.init.dial(multiaddr(addr), AbortSignal.timeout(this.init.dialTimeoutMs ?? 10_000))
    } catch (err) {
      const refusal = refusalOf(err)
      const why = refusal === undefined ? errorText(err) : `${refusal.code} (by ${refusal.by})`
      logEvent(log, 'warn', 'reserved-dial', { result: 'failed', addr, memberId: entry.memberId, reason: refusal?.code, by: refusal?.by, err: refusal === undefined ? why : undefined, retryMs: entry.backoffMs }, `reserved peer dial failed: ${addr}`)
      return why
    }
    const answered = memberOf(connection)
    if (entry.memberId !== undefined && answered !== entry.memberId) {
      // Another member answered at this member's address: it is not the peer this node must reach.
      await connection.close().catch(() => undefined)
      logEvent(log, 'warn', 'reserved-dial', { result: 'failed', addr, reason: 'member-mismatch', expected: entry.memberId, memberId: answered }, `reserved peer ${addr} answered as ${answered ?? 'nobody'}, not ${entry.memberId}`)
      return `member-mismatch: answered as ${answered ?? 'nobody'}`
    }
    logEvent(log, 'info', 'reserved-dial', { result: 'connected', addr, memberId: answered, peerId: connection.remotePeer.toString() }, `reserved peer connected: ${addr}`)
    return null
  }

  private schedule (entry: Entry): void {
    if (this.stopped || entry.timer !== undefined) return
    const delay = Math.round(entry.backoffMs * (1 + JITTER * (2 * Math.random() - 1)))
    entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxBackoffMs)
    this.wait(entry, delay)
  }

  private wait (entry: Entry, delay: number): void {
    entry.retryAt = this.init.clock() + delay
    entry.timer = setTimeout(() => { void this.dial(entry) }, delay)
    unrefTimer(entry.timer)
  }
}

function errorText (err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return text.split('\n')[0] ?? text
}

/** Whether member `other`'s roles, by the roster's topology, make it keep every member of one of `self`'s roles. */
function mustReach (roster: Roster, other: string, self: { readonly roles: readonly string[] }): boolean {
  const member = roster.member(other)
  if (member === undefined) return false
  return member.roles.some(role => (roster.policy.topology.get(role) ?? []).some(rule => rule.count === 'all' && self.roles.includes(rule.role)))
}
