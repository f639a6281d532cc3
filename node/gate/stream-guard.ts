import type { Connection, Stream, StreamHandler, StreamHandlerRecord, StreamMiddleware } from '@libp2p/interface'
import { protocolAllows, type ReasonCode, type Roster } from '../../membership/index.ts'
import type { GateMetrics } from '../telemetry.ts'
import type { Admitted } from './admitted.ts'
import type { Refusals } from './refusals.ts'

/** Thrown when fedgate is given a libp2p registrar it cannot guard: it refuses to start rather than leave handlers open. */
export class UnguardableRegistrarError extends Error {
  override readonly name = 'UnguardableRegistrarError'

  constructor (missing: string) {
    super(`fedgate cannot guard this libp2p registrar (it has no ${missing}); use a libp2p 3.x release in fedgate's tested range`)
  }
}

/** The part of libp2p's registrar the stream guard hooks (libp2p 3's Registrar has both). */
export interface GuardableRegistrar {
  getMiddleware (protocol: string): StreamMiddleware[]
  getHandler (protocol: string): StreamHandlerRecord
}

export interface StreamGuardInit {
  readonly admitted: Admitted
  readonly refusals: Refusals
  readonly metrics: GateMetrics
  readonly roster: () => Roster
  /** fedgate's own protocols, open to every admitted peer whatever policy.protocols says. */
  readonly internalProtocols: ReadonlySet<string>
  /** Tells the peer a protocol was refused it, so its side learns why its stream died. */
  readonly notify?: (connection: Connection, protocol: string, code: ReasonCode) => void
}

/**
 * Decides which inbound streams reach a handler: only those of an admitted connection that is not
 * closing, on a protocol the roster allows the peer's roles (default deny). It hooks the registrar
 * twice, so that a libp2p that stops running middleware still cannot reach a handler unchecked:
 * a guard middleware runs first for every protocol, and every handler the registrar hands out is
 * wrapped to check any stream the middleware did not see.
 */
export class StreamGuard {
  private readonly init: StreamGuardInit
  private readonly checked = new WeakSet<Stream>()

  constructor (init: StreamGuardInit) {
    this.init = init
  }

  /** Hooks `registrar`; throws UnguardableRegistrarError when it lacks the hooked shape. */
  install (registrar: Partial<GuardableRegistrar>): void {
    if (typeof registrar.getMiddleware !== 'function') throw new UnguardableRegistrarError('getMiddleware(protocol)')
    if (typeof registrar.getHandler !== 'function') throw new UnguardableRegistrarError('getHandler(protocol)')
    const middlewareOf = registrar.getMiddleware.bind(registrar)
    const handlerOf = registrar.getHandler.bind(registrar)
    // A fresh array per stream: the guard first, then whatever the node registered with use().
    registrar.getMiddleware = (protocol: string) => [this.middleware, ...middlewareOf(protocol)]
    registrar.getHandler = (protocol: string) => {
      const record = handlerOf(protocol)
      return { ...record, handler: this.wrap(record.handler) }
    }
  }

  /** Why a peer may not open `protocol` on `connection`, or null when it may. */
  authorize (protocol: string, connection: Connection): ReasonCode | null {
    const entry = this.init.admitted.get(connection)
    if (entry === undefined) return 'no-credential'
    // A connection being closed opens nothing more.
    if (entry.closing !== undefined) return entry.closing.by === 'local' ? entry.closing.code : 'connection-closed'
    if (this.init.internalProtocols.has(protocol)) return null
    return protocolAllows(this.init.roster().policy, protocol, entry.peer.roles) ? null : 'protocol-not-allowed'
  }

  /** Resets the open inbound streams of `connection` whose protocol the roster no longer allows the peer. */
  enforce (connection: Connection): void {
    // A copy: resetting a stream removes it from the muxer's live list, which would skip the next one.
    for (const stream of [...connection.streams]) {
      // A stream still negotiating its protocol meets the guard once negotiation ends.
      if (stream.direction !== 'inbound' || stream.protocol === undefined || stream.protocol === '') continue
      const code = this.authorize(stream.protocol, connection)
      if (code === null) continue
      this.reset(stream, connection, code, 'live')
    }
  }

  private readonly middleware: StreamMiddleware = (stream, connection, next) => {
    if (stream.direction === 'inbound') {
      const code = this.authorize(stream.protocol ?? '', connection)
      if (code !== null) {
        this.record(stream, connection, code, 'stream')
        // Throwing makes libp2p reset the stream before any handler sees it.
        throw new Error(`fedgate: ${code}`)
      }
      this.checked.add(stream)
    }
    next(stream, connection)
  }

  private wrap (handler: StreamHandler): StreamHandler {
    return async (stream, connection) => {
      if (stream.direction === 'inbound' && !this.checked.has(stream)) {
        const code = this.authorize(stream.protocol ?? '', connection)
        if (code !== null) {
          this.reset(stream, connection, code, 'stream')
          return
        }
      }
      await handler(stream, connection)
    }
  }

  private reset (stream: Stream, connection: Connection, code: ReasonCode, stage: 'stream' | 'live'): void {
    this.record(stream, connection, code, stage)
    stream.abort(new Error(`fedgate: ${code}`))
  }

  private record (stream: Stream, connection: Connection, code: ReasonCode, stage: 'stream' | 'live'): void {
    const protocol = stream.protocol ?? ''
    const peer = this.init.admitted.get(connection)?.peer
    this.init.metrics.streamResets.inc({ reason: code, protocol })
    this.init.refusals.record({ code, by: 'local', stage, direction: connection.direction, peerId: connection.remotePeer.toString(), memberId: peer?.memberId, remoteAddr: connection.remoteAddr.toString(), protocol })
    // Only an admitted peer refused by the policy is told: a closing connection hears its bye instead.
    if (code === 'protocol-not-allowed') this.init.notify?.(connection, protocol, code)
  }
}
