import { stat } from 'node:fs/promises'
import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_ROSTER_BYTES } from '../../membership/index.ts'
import type { RosterStore } from '../files/roster-store.ts'
import type { EpochExchange } from '../gate/gate.ts'
import type { Logger } from '../log.ts'

/**
 * Roster propagation between admitted peers. A node that accepts a new epoch announces it to its
 * peers; a peer that is behind (or that learns in a handshake that the other side is ahead) pulls
 * the epochs it lacks and offers each to its RosterStore, which accepts it only under the usual
 * rules (threshold of the previous epoch's admins, higher epoch). A peer is never trusted for the
 * content: it can only hand over epochs the admins signed.
 *
 *   request   { v: 1, after: N }   → response { v: 1, count: K } then K roster epochs, ascending
 *   announce  { v: 1, epoch: N }   → no response
 */
export const ROSTER_PROTOCOL = '/fedgate/roster/1.0.0'

const VERSION = 1
/** Epochs sent per request; a node further behind asks again. */
const MAX_EPOCHS_PER_PULL = 16
/** A stored epoch larger than this is not offered to peers. */
const MAX_SYNC_EPOCH_BYTES = Math.min(MAX_ROSTER_BYTES, 64 * 1024 * 1024)
const CONTROL_MESSAGE_BYTES = 256
/** Roster streams a peer may have open to this node at once. */
export const MAX_INBOUND_SYNC_STREAMS = 2
const PULL_TIMEOUT_MS = 30_000
const ANNOUNCE_TIMEOUT_MS = 2_000
/** Epochs accepted in a burst (a catch-up) are announced once, for the newest. */
const ANNOUNCE_SETTLE_MS = 50
/** A peer whose pull failed, made no progress or served a refused epoch is not pulled from for this long. */
const PEER_BACKOFF_MS = 60_000
const MAX_PENALISED_PEERS = 4096

const encoder = new TextEncoder()
const decoder = new TextDecoder()

type SyncMessage = { after: number } | { epoch: number } | { count: number }

function encode (message: SyncMessage): Uint8Array {
  return encoder.encode(JSON.stringify({ v: VERSION, ...message }))
}

/** Decodes a control message; throws on anything malformed. */
function decode (bytes: Uint8Array): Record<string, unknown> {
  const doc: unknown = JSON.parse(decoder.decode(bytes))
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || (doc as Record<string, unknown>).v !== VERSION) {
    throw new Error('not a roster sync message of this version')
  }
  return doc as Record<string, unknown>
}

function epochField (doc: Record<string, unknown>, key: string): number | undefined {
  const value = doc[key]
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

export class RosterSync implements EpochExchange {
  readonly protocol = ROSTER_PROTOCOL
  readonly maxInboundStreams = MAX_INBOUND_SYNC_STREAMS
  private readonly store: RosterStore
  private readonly log: Logger
  /** The newest epoch each admitted connection claims to run, by connection id. */
  private readonly claims = new Map<string, { epoch: number, connection: Connection }>()
  private readonly penalised = new Map<string, number>()
  private pulling = false
  private announceTimer: NodeJS.Timeout | undefined

  constructor (store: RosterStore, log: Logger) {
    this.store = store
    this.log = log
  }

  /** Answers a peer: sends the epochs it asks for, one at a time, or notes the epoch it announces. */
  async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(PULL_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: CONTROL_MESSAGE_BYTES })
    try {
      const doc = decode((await lp.read({ signal })).subarray())
      const after = epochField(doc, 'after')
      const announced = epochField(doc, 'epoch')
      if (after !== undefined) {
        const epochs: number[] = []
        for (const epoch of (await this.store.epochs()).filter(e => e > after).slice(0, MAX_EPOCHS_PER_PULL)) {
          const size = await stat(this.store.epochPath(epoch)).then(s => s.size, () => Infinity)
          if (size > MAX_SYNC_EPOCH_BYTES) break
          epochs.push(epoch)
        }
        await lp.write(encode({ count: epochs.length }), { signal })
        for (const epoch of epochs) {
          const text = await this.store.epochText(epoch)
          if (text === undefined) throw new Error(`stored epoch ${epoch} disappeared`)
          await lp.write(text, { signal })
        }
      } else if (announced !== undefined) {
        this.want(announced, connection)
      }
      await stream.close({ signal })
    } catch (err) {
      stream.abort(asError(err))
    }
  }

  /** Notes that `connection` runs `epoch`, and pulls when that is newer than the accepted roster. */
  want (epoch: number, connection: Connection): void {
    if (epoch <= this.store.current.epoch) return
    const claim = this.claims.get(connection.id)
    if (claim === undefined || epoch > claim.epoch) this.claims.set(connection.id, { epoch, connection })
    if (this.pulling) return
    this.pulling = true
    this.pullClaims()
      .catch(err => this.log.warn({ event: 'roster-sync-failed', err: String(err) }, 'roster sync stopped'))
      .finally(() => { this.pulling = false })
  }

  /** Forgets what a closed connection claimed. */
  forget (connection: Connection): void {
    this.claims.delete(connection.id)
  }

  /** Tells `connections()` the newest accepted epoch, once a burst of accepted epochs settles. */
  announce (connections: () => Connection[]): void {
    clearTimeout(this.announceTimer)
    this.announceTimer = setTimeout(() => { void this.announceNow(this.store.current.epoch, connections()) }, ANNOUNCE_SETTLE_MS)
    this.announceTimer.unref()
  }

  stop (): void {
    clearTimeout(this.announceTimer)
    this.claims.clear()
  }

  private async announceNow (epoch: number, connections: readonly Connection[]): Promise<void> {
    await Promise.all(connections.map(async connection => {
      const signal = AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)
      let stream: Stream | undefined
      try {
        stream = await connection.newStream(ROSTER_PROTOCOL, { signal })
        await lpStream(stream, { maxDataLength: CONTROL_MESSAGE_BYTES }).write(encode({ epoch }), { signal })
        await stream.close({ signal })
      } catch (err) {
        // A peer that cannot be told learns the epoch in its next handshake.
        stream?.abort(asError(err))
      }
    }))
  }

  /** Pulls from the peer claiming the newest epoch until no usable claim is ahead of the store. */
  private async pullClaims (): Promise<void> {
    for (;;) {
      const current = this.store.current.epoch
      const now = Date.now()
      let best: { epoch: number, connection: Connection } | undefined
      for (const [id, claim] of this.claims) {
        if (claim.epoch <= current || claim.connection.status !== 'open') this.claims.delete(id)
        else if ((this.penalised.get(claim.connection.remotePeer.toString()) ?? 0) > now) continue
        else if (best === undefined || claim.epoch > best.epoch) best = claim
      }
      if (best === undefined) return
      const progressed = await this.pull(best.connection)
      if (!progressed) {
        // The peer claimed an epoch it could not deliver: try the others, not this one again soon.
        this.penalise(best.connection.remotePeer.toString())
        this.claims.delete(best.connection.id)
      }
    }
  }

  /** One request to `connection`; true when the store moved to a newer epoch. */
  private async pull (connection: Connection): Promise<boolean> {
    const peerId = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(PULL_TIMEOUT_MS)
    const before = this.store.current.epoch
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(ROSTER_PROTOCOL, { signal })
      const control = lpStream(stream, { maxDataLength: CONTROL_MESSAGE_BYTES })
      await control.write(encode({ after: before }), { signal })
      const count = Math.min(epochField(decode((await control.read({ signal })).subarray()), 'count') ?? 0, MAX_EPOCHS_PER_PULL)
      const epochs = lpStream(control.unwrap(), { maxDataLength: MAX_SYNC_EPOCH_BYTES })
      for (let i = 0; i < count; i++) {
        const text = decoder.decode((await epochs.read({ signal })).subarray())
        // Offer the whole batch: a refused epoch (say, one this node jumped over) need not block later ones.
        await this.store.applyText(text, `peer ${peerId}`)
      }
      await stream.close({ signal })
    } catch (err) {
      stream?.abort(asError(err))
      this.log.warn({ event: 'roster-sync-failed', peerId, err: String(err) }, 'could not fetch roster epochs from a peer')
    }
    return this.store.current.epoch > before
  }

  private penalise (peerId: string): void {
    const now = Date.now()
    if (this.penalised.size >= MAX_PENALISED_PEERS) {
      for (const [peer, until] of this.penalised) if (until <= now) this.penalised.delete(peer)
      // Still full of live penalties: drop the oldest one rather than all of them.
      const oldest = this.penalised.keys().next().value
      if (this.penalised.size >= MAX_PENALISED_PEERS && oldest !== undefined) this.penalised.delete(oldest)
    }
    this.penalised.delete(peerId)
    this.penalised.set(peerId, now + PEER_BACKOFF_MS)
  }
}
