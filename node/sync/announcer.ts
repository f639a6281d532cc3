import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Roster } from '../../membership/index.ts'
import type { EpochStore, RosterUpdate } from '../roster-source.ts'
import { unrefTimer } from '../timers.ts'
import { epochDelta, type EpochDelta } from './delta.ts'
import { encodeAnnounce, MAX_INLINE_DELTA_BYTES, ROSTER_PROTOCOL } from './wire.ts'

/**
 * Epochs accepted together (a chain handed over at once) are announced once, for the newest. A
 * fetch from a peer defers its announcements itself (RosterSync), so this only has to outlast the
 * checks between two epochs of one hand-over; each hop of an epoch across the federation waits it.
 */
const ANNOUNCE_SETTLE_MS = 5
/** Announcements in flight at once; the rest wait, so a node with thousands of peers is not stalled by its own fan-out. */
const ANNOUNCE_CONCURRENCY = 32
const ANNOUNCE_TIMEOUT_MS = 2_000
/** A peer acknowledges an announcement by closing its end once it has handled it. */
const ANNOUNCE_ACK_MS = 5_000
/** Rounds for a peer whose announcement failed or went unacknowledged: the first, then retries after 1 s and 2 s. */
const ANNOUNCE_ROUNDS = 3
const ANNOUNCE_RETRY_MS = 1_000

/**
 * Tells peers about each epoch this node accepts: once a burst of accepted epochs settles, the
 * newest, with its fingerprint (a peer that holds it already does nothing) and, when this node
 * accepted it right after the epoch before it, the epoch itself as a delta against that one (a
 * peer one epoch behind then needs no pull). The fan-out is paced.
 */
export class Announcer {
  private readonly store: EpochStore
  private timer: ReturnType<typeof setTimeout> | undefined
  private latest: { readonly previous: Roster | null, readonly current: Roster } | undefined
  private delta: { readonly epoch: number, readonly delta: EpochDelta | undefined } | undefined
  private stopped = false
  private readonly retries = new Set<ReturnType<typeof setTimeout>>()
  private readonly onRoster = (evt: CustomEvent<RosterUpdate>): void => { this.latest = evt.detail }

  constructor (store: EpochStore) {
    this.store = store
    store.addEventListener('roster', this.onRoster)
  }

  /**
   * Tells `connections()` the newest accepted epoch, once a burst of accepted epochs settles;
   * `told` learns of each connection that acknowledged it. A connection that did not is told again,
   * up to ANNOUNCE_ROUNDS times in all, while `connections()` still lists it.
   */
  announce (connections: () => Connection[], told: (connection: Connection, epoch: number) => void): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.announceNow(connections, connections(), told, 1) }, ANNOUNCE_SETTLE_MS)
    unrefTimer(this.timer)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    for (const retry of this.retries) clearTimeout(retry)
    this.retries.clear()
    this.store.removeEventListener('roster', this.onRoster)
  }

  /** The delta of `roster` against the epoch before it, when this node accepted the two in a row. */
  private deltaOf (roster: Roster): EpochDelta | undefined {
    if (this.delta?.epoch !== roster.epoch) {
      const latest = this.latest
      const delta = latest?.current === roster && latest.previous !== null ? epochDelta(latest.previous, roster) : undefined
      this.delta = { epoch: roster.epoch, delta }
    }
    return this.delta.delta
  }

  private async announceNow (list: () => Connection[], connections: readonly Connection[], told: (connection: Connection, epoch: number) => void, round: number): Promise<void> {
    const roster = this.store.current
    const message = encodeAnnounce(roster.epoch, roster.fingerprint, this.deltaOf(roster))
    const acks: Array<Promise<Connection | undefined>> = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < connections.length && !this.stopped) {
        const connection = connections[next++]
        if (connection === undefined) continue
        // A worker moves on once the announcement is sent; the acknowledgement is awaited apart.
        const { acked } = await this.tell(connection, message)
        acks.push(acked.then(ok => {
          if (!ok) return connection
          told(connection, roster.epoch)
          return undefined
        }))
      }
    }
    await Promise.all(Array.from({ length: Math.min(ANNOUNCE_CONCURRENCY, connections.length) }, worker))
    const failed = new Set((await Promise.all(acks)).filter(c => c !== undefined))
    if (failed.size === 0 || round >= ANNOUNCE_ROUNDS || this.stopped) return
    // A peer that still cannot be told after the last round learns the epoch in its next handshake.
    const retry = setTimeout(() => {
      this.retries.delete(retry)
      if (this.stopped || this.store.current !== roster) return
      void this.announceNow(list, list().filter(c => failed.has(c)), told, round + 1)
    }, ANNOUNCE_RETRY_MS * round)
    unrefTimer(retry)
    this.retries.add(retry)
  }

  /** Sends `message` on a new stream; resolves, once sent, to whether the peer acknowledges it. */
  private async tell (connection: Connection, message: Uint8Array): Promise<{ acked: Promise<boolean> }> {
    const signal = AbortSignal.timeout(ANNOUNCE_TIMEOUT_MS)
    let stream: Stream | undefined
    try {
      // The announcement is one message: it goes out with the protocol id, without waiting for the
      // peer to confirm the protocol first.
      stream = await connection.newStream(ROSTER_PROTOCOL, { signal, negotiateFully: false })
      await lpStream(stream, { maxDataLength: MAX_INLINE_DELTA_BYTES }).write(message, { signal })
      await stream.close({ signal })
      return { acked: acknowledged(stream) }
    } catch (err) {
      stream?.abort(asError(err))
      return { acked: Promise.resolve(false) }
    }
  }

}

/** Whether the peer closes its end of `stream` cleanly within ANNOUNCE_ACK_MS (it does once it has handled the announcement). */
async function acknowledged (stream: Stream): Promise<boolean> {
  if (stream.status === 'closed') return true
  if (stream.status !== 'open' && stream.status !== 'closing') return false
  return await new Promise<boolean>(resolve => {
    const timer = setTimeout(() => {
      stream.abort(new Error('fedgate: roster announcement not acknowledged'))
      resolve(false)
    }, ANNOUNCE_ACK_MS)
    unrefTimer(timer)
    stream.addEventListener('close', evt => {
      clearTimeout(timer)
      resolve(evt.error === undefined)
    }, { once: true })
  })
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
