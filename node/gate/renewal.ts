import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { TypedEventTarget } from 'main-event'
import { Credential, MAX_CREDENTIAL_BYTES, utf8, type ReasonCode } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import type { GateLog, GateMetrics } from '../telemetry.ts'
import { decodeVerdict, encodeVerdict } from '../net/hello.ts'
import type { FederationEvents } from '../types.ts'
import type { Admitted, AdmittedConnection } from './admitted.ts'
import type { Bye } from './bye.ts'
import type { Enforcement } from './enforcement.ts'
import type { StreamGuard } from './stream-guard.ts'

/** Pushes a renewed credential to a connected peer, which verifies it and keeps the connection. */
export const RENEW_PROTOCOL = '/fedgate/credential/1.0.0'
const RENEW_TIMEOUT_MS = 5_000

export interface RenewalInit {
  readonly admitted: Admitted
  readonly enforcement: Enforcement
  readonly guard: StreamGuard
  readonly bye: Bye
  readonly metrics: GateMetrics
  readonly log: GateLog
  readonly events: TypedEventTarget<FederationEvents>
}

/**
 * Credential renewal without reconnecting. A renewed credential must verify like a new one, name
 * the same member as the one admitted, and claim no role beyond those admitted: anything else
 * would let a member move a connection (and its slot) to another member, or gain roles no slot or
 * policy check saw. Such a renewal is refused and the connection closed.
 */
export class Renewal {
  private readonly init: RenewalInit

  constructor (init: RenewalInit) {
    this.init = init
  }

  /** Sends this node's renewed credential to every connected peer, once per peer. */
  async push (credential: Credential): Promise<void> {
    const byPeer = new Map<string, Connection>()
    for (const { connection, closing } of this.init.admitted.all()) {
      if (closing === undefined) byPeer.set(connection.remotePeer.toString(), connection)
    }
    await Promise.all([...byPeer.values()].map(async connection => this.send(connection, credential)))
  }

  /** Serves a peer's renewal: applies it to each of the peer's connections, or refuses and closes. */
  async receive (stream: Stream, connection: Connection): Promise<void> {
    const { admitted, metrics, log, events } = this.init
    const signal = AbortSignal.timeout(RENEW_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_CREDENTIAL_BYTES })
    const peerId = connection.remotePeer.toString()
    let credential: Credential | undefined
    let code: ReasonCode | null
    try {
      credential = Credential.decode((await lp.read({ signal })).subarray())
      code = this.judge(credential, connection)
    } catch {
      code = 'malformed'
    }
    if (code === null && credential !== undefined) {
      const renewed = credential
      for (const entry of admitted.ofPeer(peerId)) this.apply(entry, renewed)
      logEvent(log, 'info', 'credential-renewal', { reason: 'ok', local: false, peerId, remoteAddr: connection.remoteAddr.toString(), memberId: renewed.memberId, roles: renewed.roles, notAfter: renewed.document.notAfter, credential: renewed.fingerprint }, `peer credential renewed for ${renewed.memberId}`)
      events.safeDispatchEvent('credential-renewed', { detail: { peerId, memberId: renewed.memberId, roles: renewed.roles, notAfter: renewed.notAfterMs, local: false } })
    } else {
      logEvent(log, 'warn', 'credential-renewal-refused', { reason: code, peerId, memberId: credential?.memberId }, 'refused a renewed credential from a peer')
    }
    metrics.credentialRenewals.inc({ direction: 'inbound', result: code ?? 'ok' })
    try {
      await lp.write(encodeVerdict(code ?? 'ok'), { signal })
      await stream.close({ signal })
    } catch {
      stream.abort(new Error('fedgate: renewal reply failed'))
    }
    if (code !== null) await this.init.bye.close(connection, code)
  }

  /** Why `credential` may not replace the one admitted on `connection`, or null when it may. */
  private judge (credential: Credential, connection: Connection): ReasonCode | null {
    const entry = this.init.admitted.get(connection)
    if (entry === undefined || entry.closing !== undefined) return 'connection-closed'
    const code = this.init.enforcement.recheck(credential, connection.remotePeer.toString())
    if (code !== null) return code
    const admittedWith = entry.slot.details.credential
    if (credential.memberId !== admittedWith.memberId) return 'member-mismatch'
    if (credential.roles.some(role => !admittedWith.roles.includes(role))) return 'member-mismatch'
    return null
  }

  private apply (entry: AdmittedConnection, credential: Credential): void {
    this.init.admitted.renew(entry, Object.freeze({ ...entry.peer, credential, roles: credential.roles }))
    this.init.enforcement.scheduleExpiry(entry)
    this.init.guard.enforce(entry.connection)
  }

  private async send (connection: Connection, credential: Credential): Promise<void> {
    const { metrics, log } = this.init
    const signal = AbortSignal.timeout(RENEW_TIMEOUT_MS)
    try {
      const stream = await connection.newStream(RENEW_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_CREDENTIAL_BYTES + 256 })
      await lp.write(utf8(credential.encode()), { signal })
      const verdict = decodeVerdict((await lp.read({ signal })).subarray())
      await stream.close({ signal })
      metrics.credentialRenewals.inc({ direction: 'outbound', result: verdict })
      if (verdict !== 'ok') logEvent(log, 'warn', 'credential-renewal-refused', { reason: verdict, peerId: connection.remotePeer.toString() }, 'peer refused the renewed credential')
    } catch (err) {
      metrics.credentialRenewals.inc({ direction: 'outbound', result: 'error' })
      logEvent(log, 'warn', 'credential-renewal-failed', { peerId: connection.remotePeer.toString(), err: String(err) }, 'could not push the renewed credential')
    }
  }
}
