import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { logEvent } from '../events.ts'
import type { Logger } from '../log.ts'
import type { FedgateMetrics } from '../metrics.ts'
import type { EpochStore } from '../roster-source.ts'
import type { Backoff } from './backoff.ts'
import { encodePull, FIRST_RESPONSE_MS, MAX_FRAME_BYTES, ROSTER_PROTOCOL, type Frames } from './wire.ts'

interface Claim {
  readonly epoch: number
  readonly connection: Connection
  readonly memberId: string
  readonly peerId: string
}

export interface PullerInit {
  readonly store: EpochStore
  readonly log: Logger
  readonly metrics: FedgateMetrics | undefined
  readonly backoff: Backoff
  readonly maxConcurrentPulls: number
  /** Receives the answer to a pull sent on `frames` and offers its epochs to the store. */
  readonly fetch: (frames: Frames, source: string) => Promise<'progress' | 'failed' | 'refused'>
  /** Holds back a peer that claimed an epoch it did not deliver. */
  readonly penalise: (key: string, claimed: number, outcome: string) => void
}

/**
 * The pull side of roster sync: what each connection claims to run, and pulls from the members
 * whose claims are newer than the accepted roster, concurrently, at most one per member, members
 * chosen at random.
 */
export class Puller {
  private readonly init: PullerInit
  private readonly claims = new Map<string, Claim>()
  private readonly pulling = new Set<string>()
  private stopped = false

  constructor (init: PullerInit) {
    this.init = init
  }

  /** Notes that `connection` (of member `memberId`) runs `epoch`, and pulls when that is newer than the accepted roster. */
  want (epoch: number, connection: Connection, memberId: string): void {
    if (this.stopped || epoch <= this.init.store.current.epoch) return
    const claim = this.claims.get(connection.id)
    if (claim === undefined || epoch > claim.epoch) {
      this.claims.set(connection.id, { epoch, connection, memberId, peerId: connection.remotePeer.toString() })
    }
    this.schedule()
  }

  /** Forgets what a closed connection claimed. */
  forget (connection: Connection): void {
    this.claims.delete(connection.id)
  }

  stop (): void {
    this.stopped = true
    this.claims.clear()
  }

  /** Starts pulls from members that hold usable claims, up to the concurrency limit. */
  private schedule (): void {
    const current = this.init.store.current.epoch
    const best = new Map<string, Claim>()
    for (const [id, claim] of this.claims) {
      if (claim.epoch <= current || claim.connection.status !== 'open') this.claims.delete(id)
      else if (this.init.backoff.holds(claim.peerId)) {
        this.claims.delete(id)
        this.init.metrics?.rosterSyncPulls.inc({ result: 'ignored' })
      } else if (this.pulling.has(claim.memberId)) continue
      else if ((best.get(claim.memberId)?.epoch ?? -1) < claim.epoch) best.set(claim.memberId, claim)
    }
    const members = [...best.keys()]
    while (this.pulling.size < this.init.maxConcurrentPulls && members.length > 0) {
      const [memberId] = members.splice(Math.floor(Math.random() * members.length), 1)
      const claim = memberId === undefined ? undefined : best.get(memberId)
      if (claim === undefined) continue
      this.pulling.add(claim.memberId)
      this.pullFrom(claim)
        .catch(err => { logEvent(this.init.log, 'warn', 'roster-sync-failed', { peerId: claim.peerId, err: String(err) }, 'roster sync stopped for a peer') })
        .finally(() => {
          this.pulling.delete(claim.memberId)
          if (!this.stopped) this.schedule()
        })
    }
  }

  /** Pulls from one claimant until its claim is met, it stops making progress, or it fails. */
  private async pullFrom (claim: Claim): Promise<void> {
    for (;;) {
      const before = this.init.store.current.epoch
      if (this.stopped || claim.epoch <= before || claim.connection.status !== 'open') return
      const outcome = await this.pull(claim.connection, before)
      this.init.metrics?.rosterSyncPulls.inc({ result: outcome === 'progress' ? 'delivered' : outcome })
      if (this.init.store.current.epoch >= claim.epoch) return
      if (outcome === 'progress' && this.init.store.current.epoch > before) continue
      // The peer claimed an epoch it did not deliver: its claim is worth nothing, and it waits.
      this.claims.delete(claim.connection.id)
      this.init.penalise(claim.peerId, claim.epoch, outcome)
      return
    }
  }

  /** One pull from `connection`: `progress` when every epoch it sent was usable, else why not. */
  private async pull (connection: Connection, after: number): Promise<'progress' | 'failed' | 'refused'> {
    const peerId = connection.remotePeer.toString()
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(ROSTER_PROTOCOL, { signal: AbortSignal.timeout(FIRST_RESPONSE_MS) })
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(encodePull(after), { signal: AbortSignal.timeout(FIRST_RESPONSE_MS) })
      const outcome = await this.init.fetch(lp, `peer ${peerId}`)
      if (outcome === 'refused') stream.abort(new Error('fedgate: peer served a refused epoch'))
      else await stream.close({ signal: AbortSignal.timeout(FIRST_RESPONSE_MS) })
      return outcome
    } catch (err) {
      stream?.abort(asError(err))
      logEvent(this.init.log, 'warn', 'roster-sync-failed', { peerId, err: String(err) }, 'could not fetch roster epochs from a peer')
      return 'failed'
    }
  }
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
