import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { ReasonCode } from '../../membership/index.ts'
import type { GateMetrics } from '../telemetry.ts'
import { decodeVerdict, encodeVerdict } from '../net/hello.ts'
import type { Admitted } from './admitted.ts'
import type { Refusals } from './refusals.ts'

/** Tells a peer why fedgate is closing its connection, just before closing it. */
export const BYE_PROTOCOL = '/fedgate/bye/1.0.0'
/** How long telling a peer why (and hearing its acknowledgement) may take before the connection goes anyway. */
export const BYE_TIMEOUT_MS = 250
const MAX_BYE_BYTES = 256

export interface ByeInit {
  readonly admitted: Admitted
  readonly refusals: Refusals
  readonly metrics: GateMetrics
  readonly clock: () => number
}

/**
 * The bye protocol, both ways. Closing a connection tells the peer the reason code first; a peer's
 * bye is recorded, acknowledged, and then this node closes the connection itself. A peer's word
 * never keeps a connection alive: the close happens whatever the peer does next.
 */
export class Bye {
  private readonly init: ByeInit

  constructor (init: ByeInit) {
    this.init = init
  }

  /**
   * Closes a connection with a reason code, telling the peer why first. `rosterChangeAt` is when
   * the roster epoch that caused it was accepted, for the revocation latency histogram.
   */
  async close (connection: Connection, code: ReasonCode, rosterChangeAt?: number): Promise<void> {
    const { admitted, refusals, metrics, clock } = this.init
    const entry = admitted.get(connection)
    if (entry !== undefined) {
      if (entry.closing?.by === 'local') return
      entry.closing = { code, by: 'local', rosterChangeAt }
      metrics.disconnects.inc({ reason: code })
      refusals.keep({ code, by: 'local', stage: 'live', direction: connection.direction, peerId: entry.peer.peerId, memberId: entry.peer.memberId, remoteAddr: entry.peer.remoteAddr, at: clock() })
    }
    await this.tell(connection, code)
    connection.abort(new Error(`fedgate: ${code}`))
  }

  /** Serves a peer's bye: records its reason, acknowledges it, and closes the connection. */
  async receive (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(BYE_TIMEOUT_MS * 4)
    const lp = lpStream(stream, { maxDataLength: MAX_BYE_BYTES })
    let code: ReasonCode = 'connection-closed'
    try {
      const verdict = decodeVerdict((await lp.read({ signal })).subarray())
      if (verdict !== 'ok') code = verdict
      await lp.write(encodeVerdict('ok'), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(new Error('fedgate: malformed bye'))
    }
    const entry = this.init.admitted.get(connection)
    if (entry !== undefined && entry.closing === undefined) {
      entry.closing = { code, by: 'remote' }
      this.init.refusals.record({ code, by: 'remote', stage: 'live', direction: connection.direction, peerId: entry.peer.peerId, memberId: entry.peer.memberId, remoteAddr: entry.peer.remoteAddr })
    }
    // The peer said it is leaving: close now, whether or not it closes its side.
    connection.abort(new Error(`fedgate: peer left (${code})`))
  }

  private async tell (connection: Connection, code: ReasonCode): Promise<void> {
    const signal = AbortSignal.timeout(BYE_TIMEOUT_MS)
    try {
      const stream = await connection.newStream(BYE_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_BYE_BYTES })
      await lp.write(encodeVerdict(code), { signal })
      // Wait for the acknowledgement so the peer has recorded the reason before the connection goes.
      await lp.read({ signal })
      await stream.close({ signal })
    } catch {
      // The peer may already be gone; the connection is closed regardless.
    }
  }
}
