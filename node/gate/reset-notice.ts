import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { fromUtf8, isReasonCode, utf8, type ReasonCode } from '../../membership/index.ts'
import type { Admitted } from './admitted.ts'
import type { Refusals } from './refusals.ts'

/**
 * Tells a peer that this node reset one of its streams, and why. A stream reset carries no reason,
 * so without it the refused side sees a dead stream at best: its gossipsub keeps a mesh that
 * delivers nothing and `publish()` resolves with no recipients.
 */
export const RESET_NOTICE_PROTOCOL = '/fedgate/reset/1.0.0'
/** How long sending (or reading) one notice may take. */
export const RESET_NOTICE_TIMEOUT_MS = 1_000
/** One notice per connection, protocol and reason per this long, each way: a peer retrying in a loop costs one. */
export const RESET_NOTICE_INTERVAL_MS = 10_000
/** Notices remembered per connection, each way; more distinct protocols than this are not told. */
const MAX_NOTICES_PER_CONNECTION = 64
const MAX_NOTICE_BYTES = 512
/** A protocol id as the roster writes one: printable ASCII, so a notice cannot smuggle control characters into a log. */
const PROTOCOL_ID = /^\/[\x21-\x7e]{1,255}$/

export interface ResetNoticesInit {
  readonly admitted: Admitted
  readonly refusals: Refusals
  readonly clock: () => number
}

/**
 * The reset notice protocol, both ways: the stream guard tells the peer each protocol it refused
 * it (`protocol-not-allowed`), and a peer's notice becomes a `stream-reset` refusal with `by:
 * 'remote'` on this node: logged, in `/status`, and dispatched. Both ways are rate-limited per
 * connection, so neither side can make the other log or send without bound.
 */
export class ResetNotices {
  private readonly init: ResetNoticesInit
  private readonly sent = new WeakMap<Connection, Map<string, number>>()
  private readonly heard = new WeakMap<Connection, Map<string, number>>()

  constructor (init: ResetNoticesInit) {
    this.init = init
  }

  /** Tells the peer behind `connection` that its `protocol` stream was reset with `code` (best effort). */
  tell (connection: Connection, protocol: string, code: ReasonCode): void {
    if (connection.status !== 'open' || !this.due(this.sent, connection, `${protocol} ${code}`)) return
    void this.send(connection, protocol, code)
  }

  /** Serves a peer's notice: records it as a refusal by the peer. */
  async receive (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(RESET_NOTICE_TIMEOUT_MS)
    let notice: { protocol: string, code: ReasonCode } | undefined
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_NOTICE_BYTES })
      notice = decodeNotice((await lp.read({ signal })).subarray())
      await stream.close({ signal })
    } catch {
      stream.abort(new Error('fedgate: malformed reset notice'))
    }
    const entry = this.init.admitted.get(connection)
    if (notice === undefined || entry === undefined || !this.due(this.heard, connection, `${notice.protocol} ${notice.code}`)) return
    this.init.refusals.record({
      code: notice.code,
      by: 'remote',
      stage: 'stream',
      direction: 'outbound',
      peerId: entry.peer.peerId,
      memberId: entry.peer.memberId,
      remoteAddr: entry.peer.remoteAddr,
      protocol: notice.protocol
    })
  }

  private async send (connection: Connection, protocol: string, code: ReasonCode): Promise<void> {
    const signal = AbortSignal.timeout(RESET_NOTICE_TIMEOUT_MS)
    try {
      const stream = await connection.newStream(RESET_NOTICE_PROTOCOL, { signal })
      await lpStream(stream, { maxDataLength: MAX_NOTICE_BYTES }).write(utf8(JSON.stringify({ protocol, code })), { signal })
      await stream.close({ signal })
    } catch {
      // The peer may be gone, or run a fedgate without notices: the reset stands either way.
    }
  }

  /** True (and remembered) when `key` was not acted on over `connection` within the interval. */
  private due (book: WeakMap<Connection, Map<string, number>>, connection: Connection, key: string): boolean {
    const now = this.init.clock()
    let seen = book.get(connection)
    if (seen === undefined) {
      seen = new Map()
      book.set(connection, seen)
    }
    const last = seen.get(key)
    if (last !== undefined && now - last < RESET_NOTICE_INTERVAL_MS) return false
    if (last === undefined && seen.size >= MAX_NOTICES_PER_CONNECTION) {
      for (const [k, at] of seen) if (now - at >= RESET_NOTICE_INTERVAL_MS) seen.delete(k)
      if (seen.size >= MAX_NOTICES_PER_CONNECTION) return false
    }
    seen.set(key, now)
    return true
  }
}

function decodeNotice (bytes: Uint8Array): { protocol: string, code: ReasonCode } {
  const value: unknown = JSON.parse(fromUtf8(bytes))
  if (typeof value !== 'object' || value === null) throw new Error('a reset notice is a JSON object')
  const { protocol, code } = value as Record<string, unknown>
  if (typeof protocol !== 'string' || !PROTOCOL_ID.test(protocol)) throw new Error('bad protocol')
  if (!isReasonCode(code)) throw new Error('unknown reason code')
  return { protocol, code }
}
