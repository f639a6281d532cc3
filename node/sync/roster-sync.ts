import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { fromUtf8 } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import { precheckRoster } from '../files/roster-precheck.ts'
import type { EpochStore } from '../roster-source.ts'
import type { EpochExchange } from '../gate/internals.ts'
import type { Logger } from '../log.ts'
import type { FedgateMetrics } from '../metrics.ts'
import { Announcer } from './announcer.ts'
import { Backoff } from './backoff.ts'
import { applyDelta, type EpochDelta } from './delta.ts'
import { EpochCache } from './epoch-cache.ts'
import { Puller } from './puller.ts'
import {
  decodeRequest, decodeSizes, encodeSizes, FIRST_RESPONSE_MS, MAX_EPOCHS_PER_PULL, MAX_FRAME_BYTES, receiveEpoch,
  ROSTER_PROTOCOL, sendEpoch, type Frames
} from './wire.ts'

/** Roster streams one peer may have open to this node at once. */
export const MAX_INBOUND_SYNC_STREAMS = 2
/** Pulls in flight at once, each from a different member, so one member's stalling claims never block another's. */
export const MAX_CONCURRENT_PULLS = 4
/** A peer whose pull failed, made no progress, or served a refused epoch is not pulled from for this long. */
export const PEER_BACKOFF_MS = 60_000

export interface RosterSyncInit {
  /** Counts pulls by result (fedgate_roster_sync_pulls_total). */
  metrics?: FedgateMetrics
  /** @default MAX_CONCURRENT_PULLS */
  maxConcurrentPulls?: number
  /** @default PEER_BACKOFF_MS */
  backoffMs?: number
  /** @default Date.now */
  clock?: () => number
}

/**
 * Roster propagation between admitted peers (protocol in wire.ts). A node announces each epoch it
 * accepts; a peer that is behind, or that learns in a handshake that the other side is ahead,
 * pulls the epochs it lacks and offers each to its EpochStore, which accepts it only under the
 * usual rules. A peer is never trusted for content, only for delivery, and a claim is worth nothing
 * until delivered:
 * - pulls run concurrently, at most one per member, choosing members at random, so the claims of
 *   one member (however many node keys it holds, whatever epoch they claim) cannot keep another
 *   member's real epoch away;
 * - every read has a deadline and every chunk a minimum size, so a stalling claimant is cut in
 *   seconds;
 * - a claim the peer cannot back with an epoch the store accepts is dropped, and the peer is not
 *   pulled from again for a while.
 */
export class RosterSync implements EpochExchange {
  readonly protocol = ROSTER_PROTOCOL
  readonly maxInboundStreams = MAX_INBOUND_SYNC_STREAMS
  private readonly store: EpochStore
  private readonly log: Logger
  private readonly backoffMs: number
  private readonly clock: () => number
  private readonly metrics: FedgateMetrics | undefined
  private readonly cache: EpochCache
  /** The newest epoch each connection (by id) has shown it holds: in its hello, an announcement, or by taking ours. */
  private readonly shown = new Map<string, number>()
  private readonly announcer: Announcer
  private readonly backoff: Backoff
  private readonly puller: Puller
  private catchingUp = false
  /** Fetches under way; while any is, announcements wait for it to end and then tell the newest epoch once. */
  private fetching = 0
  private deferred: (() => Connection[]) | undefined
  /** Inline epochs being checked, by fingerprint. */
  private readonly inline = new Map<string, Promise<boolean>>()
  private stopped = false

  constructor (store: EpochStore, log: Logger, init: RosterSyncInit = {}) {
    this.store = store
    this.log = log
    this.backoffMs = init.backoffMs ?? PEER_BACKOFF_MS
    this.clock = init.clock ?? Date.now
    this.metrics = init.metrics
    this.cache = new EpochCache(store)
    this.announcer = new Announcer(store)
    this.backoff = new Backoff(this.clock)
    this.puller = new Puller({
      store,
      log,
      metrics: this.metrics,
      backoff: this.backoff,
      maxConcurrentPulls: init.maxConcurrentPulls ?? MAX_CONCURRENT_PULLS,
      fetch: async (frames, source) => await this.fetchEpochs(frames, source),
      penalise: (key, claimed, outcome) => { this.penalise(key, claimed, outcome) }
    })
  }

  /** Answers a peer: sends the epochs it pulls, or notes the epoch it announces. */
  async serve (stream: Stream, connection: Connection, memberId: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    try {
      const request = decodeRequest((await lp.read({ signal: AbortSignal.timeout(FIRST_RESPONSE_MS) })).subarray())
      if (request.kind === 'announce') {
        this.metrics?.rosterAnnouncements.inc({ direction: 'received' })
        this.noteShown(connection, request.epoch)
        if (request.fingerprint !== this.store.current.fingerprint && !await this.applyInline(request, connection)) this.want(request.epoch, connection, memberId)
      } else {
        await this.sendEpochs(lp, request.after)
      }
      await stream.close({ signal: AbortSignal.timeout(FIRST_RESPONSE_MS) })
    } catch (err) {
      stream.abort(asError(err))
    }
  }

  /** Sends the stored epochs after `after` (at most MAX_EPOCHS_PER_PULL), as the answer to a pull. */
  async sendEpochs (frames: Frames, after: number, outer?: AbortSignal): Promise<void> {
    const epochs = await this.cache.after(after, MAX_EPOCHS_PER_PULL)
    const timeout = AbortSignal.timeout(FIRST_RESPONSE_MS + epochs.reduce((ms, e) => ms + transferBudgetMs(e.byteLength), 0))
    const signal = outer === undefined ? timeout : AbortSignal.any([outer, timeout])
    await frames.write(encodeSizes(epochs.map(e => e.byteLength)), { signal })
    for (const bytes of epochs) await sendEpoch(frames, bytes, { signal })
  }

  /**
   * Receives the answer to a pull already sent on `frames` and offers each epoch to the store, one
   * at a time: `progress` when every epoch was usable, `refused` when the store refused one (the
   * peer served a forged, under-signed or foreign epoch), `failed` when the peer broke the protocol
   * or missed a deadline.
   */
  async fetchEpochs (frames: Frames, source: string, outer?: AbortSignal): Promise<'progress' | 'failed' | 'refused'> {
    this.fetching++
    try {
      const first = AbortSignal.timeout(FIRST_RESPONSE_MS)
      const sizes = decodeSizes((await frames.read({ signal: outer === undefined ? first : AbortSignal.any([outer, first]) })).subarray())
      for (const size of sizes) {
        // One epoch in memory at a time: read, check, apply, then the next.
        const text = fromUtf8(await receiveEpoch(frames, size, outer))
        const refusal = await this.offer(text, source)
        if (refusal !== null && refusal !== 'roster-stale') return 'refused'
      }
      return 'progress'
    } finally {
      this.fetching--
      const deferred = this.deferred
      if (this.fetching === 0 && deferred !== undefined) {
        this.deferred = undefined
        this.announce(deferred)
      }
    }
  }

  /**
   * Whether a handshake with a peer at `key` (its IP) may fetch epochs before its verdict: one such
   * catch-up at a time node-wide, and none for a while from an address whose last one failed, so a
   * stranger claiming a huge epoch cannot make this node download from it over and over.
   */
  mayCatchUp (key: string): boolean {
    return !this.catchingUp && !this.backoff.holds(`catch-up ${key}`)
  }

  /** Runs a handshake catch-up (see mayCatchUp); penalises `key` when it does not deliver. */
  async catchUp (key: string, run: () => Promise<'progress' | 'failed' | 'refused'>): Promise<void> {
    this.catchingUp = true
    try {
      const outcome = await run().catch(() => 'failed' as const)
      this.metrics?.rosterSyncPulls.inc({ result: outcome === 'progress' ? 'delivered' : outcome })
      if (outcome !== 'progress') this.penalise(`catch-up ${key}`, -1, outcome)
    } finally {
      this.catchingUp = false
    }
  }

  /** Notes that `connection` (of member `memberId`) runs `epoch`, and pulls when that is newer than the accepted roster. */
  want (epoch: number, connection: Connection, memberId: string): void {
    this.noteShown(connection, epoch)
    this.puller.want(epoch, connection, memberId)
  }

  /** Forgets what a closed connection claimed. */
  forget (connection: Connection): void {
    this.puller.forget(connection)
    this.shown.delete(connection.id)
  }

  /**
   * Tells `connections()` the newest accepted epoch (see Announcer), except those that have shown
   * they hold it already: the peer that announced it, say, is not told it back, so an epoch crosses
   * each connection once instead of once each way.
   */
  announce (connections: () => Connection[]): void {
    if (this.fetching > 0) {
      // A chain of epochs arriving: tell peers the newest once it has all landed.
      this.deferred = connections
      return
    }
    this.announcer.announce(
      () => connections().filter(c => (this.shown.get(c.id) ?? -1) < this.store.current.epoch),
      (connection, epoch) => {
        this.metrics?.rosterAnnouncements.inc({ direction: 'sent' })
        this.noteShown(connection, epoch)
      }
    )
  }

  private noteShown (connection: Connection, epoch: number): void {
    if (this.stopped || connection.status !== 'open') return
    if (epoch > (this.shown.get(connection.id) ?? -1)) this.shown.set(connection.id, epoch)
  }

  stop (): void {
    this.stopped = true
    this.announcer.stop()
    this.puller.stop()
    this.shown.clear()
  }

  /** Offers an epoch to the store; a large one is checked off the main thread first. */
  private async offer (text: string, source: string): Promise<string | null> {
    const verdict = await precheckRoster(text, this.store.current)
    if (verdict !== null) return verdict.inForce === true ? null : this.store.refuse({ code: verdict.code, message: verdict.message, source }).code
    return (await this.store.applyText(text, source))?.code ?? null
  }

  /**
   * Applies an epoch an announcement carried as a delta, when this node holds the epoch before it:
   * true when the store accepted it. A delta that does not rebuild the announced epoch, or an epoch
   * the store refuses, penalises the peer; the caller then falls back to pulling.
   */
  private async applyInline (request: { epoch: number, fingerprint: string, delta?: unknown }, connection: Connection): Promise<boolean> {
    // Several peers announce the same epoch at once: it is checked once, and they all wait for that.
    const inFlight = this.inline.get(request.fingerprint)
    if (inFlight !== undefined) return await inFlight
    const applying = this.applyInlineOnce(request, connection)
    this.inline.set(request.fingerprint, applying)
    try {
      return await applying
    } finally {
      this.inline.delete(request.fingerprint)
    }
  }

  private async applyInlineOnce (request: { epoch: number, fingerprint: string, delta?: unknown }, connection: Connection): Promise<boolean> {
    const current = this.store.current
    if (request.delta === undefined || request.epoch !== current.epoch + 1) return false
    const peerId = connection.remotePeer.toString()
    const next = applyDelta(current, request.delta as EpochDelta)
    const refusal = next === undefined || next.fingerprint !== request.fingerprint
      ? 'malformed'
      : (await this.store.apply(next, `peer ${peerId}`))?.code ?? null
    if (refusal === null) {
      this.metrics?.rosterSyncPulls.inc({ result: 'inline' })
      return true
    }
    if (refusal === 'roster-stale') return this.store.current.epoch >= request.epoch
    this.metrics?.rosterSyncPulls.inc({ result: 'refused' })
    this.penalise(peerId, request.epoch, 'refused')
    return false
  }

  private penalise (key: string, claimed: number, outcome: string): void {
    this.backoff.hold(key, this.backoffMs)
    logEvent(this.log, 'warn', 'roster-sync-failed', { peerId: key, claimedEpoch: claimed, outcome, retryMs: this.backoffMs }, 'a peer did not deliver the roster epoch it claimed; not pulling from it for a while')
  }
}

/** Time allowed to send `bytes`: the chunk deadline's rate floor, doubled. */
function transferBudgetMs (bytes: number): number {
  return 2 * Math.ceil(bytes / (64 * 1024)) * 1000
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
