import { noise, type NoiseComponents, type NoiseInit } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'
import { internalsOf, type FederationGate } from '../gate/gate.ts'
import type { GateInternals } from '../gate/internals.ts'
import type { Direction } from '../types.ts'
import { exchange } from './exchange.ts'
import { ENCRYPTER_PROTOCOL } from './hello.ts'
import { remoteAddrOf } from './ip.ts'
import { unrefTimer } from '../timers.ts'
import { isAbort, MembershipRefusedError } from './refusal.ts'

export interface MembershipEncrypterInit {
  /** Passed to the inner `noise()` encrypter. */
  noise?: NoiseInit
}

/**
 * fedgate's connection encrypter: Noise XX, then, inside the secured channel and before the muxer,
 * the membership exchange (see exchange.ts). Both sides verify the other's credential against their
 * roster and against the key Noise authenticated; either side's refusal aborts the upgrade, so the
 * connection never reaches the muxer, the peer store or a protocol handler.
 */
export function membershipEncrypter (gate: FederationGate, init: MembershipEncrypterInit = {}): (components: NoiseComponents) => ConnectionEncrypter {
  const internals = internalsOf(gate)
  return (components) => {
    const inner = noise(init.noise)(components)
    const secure = async (direction: Direction, connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> => {
      const remoteAddr = remoteAddrOf(connection)
      if (direction === 'inbound') internals.pending.negotiated(remoteAddr, 'fedgate')
      const { signal, clear } = deadline(internals.handshakeTimeoutMs(), options?.signal)
      try {
        const handshake = direction === 'inbound' ? inner.secureInbound(connection, { ...options, signal }) : inner.secureOutbound(connection, { ...options, signal })
        const secured = await noiseWithin(handshake, internals, direction, remoteAddr)
        return await exchange(internals, secured, direction, signal, remoteAddr)
      } finally {
        clear()
        if (direction === 'inbound') internals.pending.done(remoteAddr)
      }
    }
    return {
      protocol: ENCRYPTER_PROTOCOL,
      secureInbound: async (connection, options) => secure('inbound', connection, options),
      secureOutbound: async (connection, options) => secure('outbound', connection, options)
    }
  }
}

/** The security protocol id of stock libp2p Noise, which the outsider encrypter answers. */
export const PLAIN_NOISE_PROTOCOL = '/noise'

/**
 * Answers peers that speak plain libp2p Noise but not fedgate: for inbound connections it completes
 * Noise, so the outsider is named by the key it proved, then refuses it with `no-credential`; an
 * outbound dial to such a peer is refused before any Noise work. Without it such a peer
 * fails protocol negotiation silently; with it the attempt is logged with PeerId and address,
 * counted, and feeds the IP ban list. Listed after the membership encrypter, it is only ever
 * selected when the other side does not offer fedgate's protocol.
 */
export function outsiderEncrypter (gate: FederationGate, init: MembershipEncrypterInit = {}): (components: NoiseComponents) => ConnectionEncrypter {
  const internals = internalsOf(gate)
  return (components) => {
    const inner = noise(init.noise)(components)
    return {
      protocol: PLAIN_NOISE_PROTOCOL,
      async secureInbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        const remoteAddr = remoteAddrOf(connection)
        internals.pending.negotiated(remoteAddr, 'plain-noise')
        try {
          if (internals.isBanned(remoteAddr)) {
            // A banned address's plain-Noise dialers cost no Noise work; fedgate dialers from it still get in.
            internals.refusals.record({ code: 'banned', by: 'local', stage: 'handshake', direction: 'inbound', remoteAddr })
            connection.abort(new Error('fedgate: banned'))
            throw new MembershipRefusedError('banned', 'local', 'plain Noise from a banned address')
          }
          const { signal, clear } = deadline(internals.handshakeTimeoutMs(), options?.signal)
          const secured = await noiseWithin(inner.secureInbound(connection, { ...options, signal }), internals, 'inbound', remoteAddr).finally(clear)
          internals.refusals.record({ code: 'no-credential', by: 'local', stage: 'handshake', direction: 'inbound', peerId: secured.remotePeer.toString(), remoteAddr })
          secured.connection.abort(new Error('fedgate: no-credential'))
          throw new MembershipRefusedError('no-credential', 'local', 'the peer speaks plain Noise without fedgate')
        } finally {
          internals.pending.done(remoteAddr)
        }
      },
      async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        // Dialling a peer that does not speak fedgate has no use: refuse before any Noise work.
        internals.refusals.record({ code: 'no-credential', by: 'local', stage: 'handshake', direction: 'outbound', peerId: options?.remotePeer?.toString(), remoteAddr: remoteAddrOf(connection) })
        connection.abort(new Error('fedgate: no-credential'))
        throw new MembershipRefusedError('no-credential', 'local', 'the peer does not offer fedgate')
      }
    }
  }
}

/**
 * A signal that aborts at the handshake deadline (a TimeoutError, as AbortSignal.timeout gives) or
 * when `outer` aborts. `clear()` ends it once the handshake is over, so that no timer or listener
 * outlives a connection's upgrade (AbortSignal.timeout and AbortSignal.any cost more per connection
 * and keep their timer until the deadline).
 */
function deadline (ms: number, outer: AbortSignal | undefined): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort(new DOMException('The handshake deadline passed', 'TimeoutError')) }, ms)
  unrefTimer(timer)
  const onOuterAbort = (): void => { controller.abort(outer?.reason) }
  if (outer?.aborted === true) onOuterAbort()
  else outer?.addEventListener('abort', onOuterAbort, { once: true })
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      outer?.removeEventListener('abort', onOuterAbort)
    }
  }
}

/** Noise itself running past the deadline is a handshake-timeout refusal too. */
async function noiseWithin (handshake: Promise<SecuredConnection>, internals: GateInternals, direction: Direction, remoteAddr: string | undefined): Promise<SecuredConnection> {
  try {
    return await handshake
  } catch (err) {
    if (isAbort(err)) {
      internals.refusals.record({ code: 'handshake-timeout', by: 'local', stage: 'handshake', direction, remoteAddr })
      throw new MembershipRefusedError('handshake-timeout', 'local', 'Noise did not complete in time')
    }
    throw err
  }
}
