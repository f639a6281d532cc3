import type { TypedEventTarget } from 'main-event'
import { logEvent } from '../events.ts'
import type { GateLog, GateMetrics } from '../telemetry.ts'
import type { BanList } from '../net/bans.ts'
import { ipOf } from '../net/ip.ts'
import type { FederationEvents, Refusal } from '../types.ts'
import { OUTSIDER_REFUSALS, PERSISTENT_REFUSALS, type Outsiders } from './outsiders.ts'

/** Refusals kept for `/status`. */
export const REFUSALS_KEPT = 100

export interface RefusalsInit {
  readonly log: GateLog
  readonly metrics: GateMetrics
  readonly clock: () => number
  readonly bans: BanList | null
  readonly outsiders: Outsiders
  readonly events: TypedEventTarget<FederationEvents>
}

/**
 * Records every refusal in one place: the ring `/status` shows, the log line, the metric, the
 * event, the outsider memory and the IP's ban count. Only refusals that prove the peer is not a
 * member feed bans, so a member is never banned for hitting this node's own limits.
 */
export class Refusals {
  private readonly init: RefusalsInit
  private readonly ring: Refusal[] = []

  constructor (init: RefusalsInit) {
    this.init = init
  }

  /** `feedsBan` counts a refusal whose code proves nothing toward the IP's ban (a silent socket displaced by its own address's next one). */
  record (refusal: Omit<Refusal, 'at'>, opts: { feedsBan?: boolean } = {}): Refusal {
    const { log, metrics, clock, bans, outsiders, events } = this.init
    const entry: Refusal = { ...refusal, at: clock() }
    this.keep(entry)
    if (entry.stage === 'handshake' || entry.stage === 'accept') {
      metrics.handshakes.inc({ direction: entry.direction, result: entry.by === 'local' ? 'refused' : 'refused-by-peer', reason: entry.code })
    }
    const local = entry.by === 'local'
    if (local && entry.stage === 'handshake' && entry.peerId !== undefined && PERSISTENT_REFUSALS.has(entry.code)) {
      outsiders.remember(entry.peerId, entry.code, entry.at)
    }
    const ip = local && entry.direction === 'inbound' && (entry.stage === 'handshake' || entry.stage === 'accept') ? ipOf(entry.remoteAddr) : undefined
    if (ip !== undefined && bans !== null && (OUTSIDER_REFUSALS.has(entry.code) || opts.feedsBan === true)) {
      const banMs = bans.fail(ip, entry.at)
      if (banMs > 0) logEvent(log, 'warn', 'ban', { ip, banMs, reason: entry.code }, 'remote address banned after repeated refusals that prove it is not a member')
    }
    const event = entry.stage === 'stream' ? 'stream-reset' : 'refusal'
    logEvent(log, 'info', event, { reason: entry.code, by: entry.by, stage: entry.stage, direction: entry.direction, peerId: entry.peerId, memberId: entry.memberId, remoteAddr: entry.remoteAddr, protocol: entry.protocol }, `${event}: ${entry.code}`)
    events.safeDispatchEvent(entry.stage === 'stream' ? 'stream-reset' : 'refused', { detail: entry })
    return entry
  }

  /** Keeps a live-stage close in the ring without another log line (its disconnect line follows). */
  keep (entry: Refusal): void {
    this.ring.push(entry)
    if (this.ring.length > REFUSALS_KEPT) this.ring.shift()
  }

  /** Recent refusals, oldest first. */
  recent (): Refusal[] {
    return [...this.ring]
  }
}
