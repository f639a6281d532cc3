import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_ROSTER_BYTES, type RosterStore } from '../membership/index.ts'
import type { Logger } from './log.ts'

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
const PULL_TIMEOUT_MS = 30_000
/** A peer that served a refused epoch, or failed a pull, is not pulled from again for this long. */
const PEER_BACKOFF_MS = 60_000
const MAX_PENALISED_PEERS = 4096
const ANNOUNCE_TIMEOUT_MS = 2_000

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

export class RosterSync {
  private readonly store: RosterStore
  private readonly log: Logger
  private pulling = false
  private readonly penalised = new Map<string, number>()
  private wanted: { epoch: number, connection: Connection } | undefined

  constructor (store: RosterStore, log: Logger) {
    this.store = store
    this.log = log
  }

  /** Answers a peer: sends the epochs it asks for, or notes the epoch it announces. */
  async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(PULL_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_SYNC_EPOCH_BYTES })
    try {
      const doc = decode((await lp.read({ signal })).subarray())
      const after = epochField(doc, 'after')
      const announced = epochField(doc, 'epoch')
      if (after !== undefined) {
        const epochs = (await this.store.epochs()).filter(e => e > after).slice(0, MAX_EPOCHS_PER_PULL)
        const texts: Uint8Array[] = []
        for (const epoch of epochs) {
          const text = await this.store.epochText(epoch)
          if (text === undefined || text.byteLength > MAX_SYNC_EPOCH_BYTES) break
          texts.push(text)
        }
        await lp.write(encode({ count: texts.length }), { signal })
        for (const text of texts) await lp.write(text, { signal })
      } else if (announced !== undefined) {
        this.want(announced, connection)
      }
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Pulls from `connection` when `epoch` is newer than the accepted roster (one pull at a time). */
  want (epoch: number, connection: Connection): void {
    if (epoch <= this.store.current.epoch) return
    const until = this.penalised.get(connection.remotePeer.toString())
    if (until !== undefined && until > Date.now()) return
    if (this.wanted === undefined || epoch > this.wanted.epoch) this.wanted = { epoch, connection }
    if (this.pulling) return
    this.pulling = true
    void this.pullWanted().finally(() => { this.pulling = false })
  }

  /** Tells every connection that this node now runs `epoch`. */
  async announce (epoch: number, connections: readonly Connection[]): Promise<void> {
    await Promise.all(connections.map(async connection => {
      const signal = AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)
      try {
        const stream = await connection.newStream(ROSTER_PROTOCOL, { signal })
        await lpStream(stream, { maxDataLength: CONTROL_MESSAGE_BYTES }).write(encode({ epoch }), { signal })
        await stream.close({ signal })
      } catch {
        // A peer that cannot be told learns the epoch in its next handshake.
      }
    }))
  }

  private async pullWanted (): Promise<void> {
    while (this.wanted !== undefined && this.wanted.epoch > this.store.current.epoch) {
      const { connection } = this.wanted
      const before = this.store.current.epoch
      await this.pull(connection)
      if (this.store.current.epoch === before) break
    }
    this.wanted = undefined
  }

  private async pull (connection: Connection): Promise<void> {
    const peerId = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(PULL_TIMEOUT_MS)
    try {
      const stream = await connection.newStream(ROSTER_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_EPOCH_BYTES })
      await lp.write(encode({ after: this.store.current.epoch }), { signal })
      const count = epochField(decode((await lp.read({ signal })).subarray()), 'count') ?? 0
      for (let i = 0; i < Math.min(count, MAX_EPOCHS_PER_PULL); i++) {
        const text = decoder.decode((await lp.read({ signal })).subarray())
        const refusal = await this.store.applyText(text, `peer ${peerId}`)
        if (refusal !== null && refusal.code !== 'roster-stale') {
          this.penalise(peerId)
          break
        }
      }
      await stream.close({ signal })
    } catch (err) {
      this.penalise(peerId)
      this.log.warn({ event: 'roster-sync-failed', peerId, err: String(err) }, 'could not fetch roster epochs from a peer')
    }
  }

  private penalise (peerId: string): void {
    const now = Date.now()
    if (this.penalised.size >= MAX_PENALISED_PEERS) {
      for (const [peer, until] of this.penalised) if (until <= now) this.penalised.delete(peer)
      if (this.penalised.size >= MAX_PENALISED_PEERS) this.penalised.clear()
    }
    this.penalised.set(peerId, now + PEER_BACKOFF_MS)
  }
}
