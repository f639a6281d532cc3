import { noise, type NoiseComponents, type NoiseInit } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { isReasonCode, type Credential, type ReasonCode } from '../membership/index.ts'
import type { FederationGate } from './gate.ts'
import { decodeHello, encodeHello, ENCRYPTER_PROTOCOL, HelloError, MAX_HELLO_BYTES } from './hello.ts'

export interface MembershipEncrypterInit {
  /** Passed to the inner `noise()` encrypter. */
  noise?: NoiseInit
}

/** Thrown when the membership exchange refuses a peer; libp2p keeps only the message, which carries the code. */
export class MembershipRefusedError extends Error {
  override readonly name = 'MembershipRefusedError'
  readonly code: ReasonCode
  readonly by: 'local' | 'remote'

  constructor (code: ReasonCode, by: 'local' | 'remote', detail?: string) {
    super(`fedgate: refused by ${by}: ${code}${detail !== undefined ? ` (${detail})` : ''}`)
    this.code = code
    this.by = by
  }
}

const REFUSAL_MESSAGE = /fedgate: refused by (local|remote): ([a-z-]+)/

/**
 * The reason code in an error from a dial or upgrade that fedgate refused (libp2p re-wraps the
 * encrypter's error as EncryptionFailedError and keeps its message). Undefined for other errors.
 */
export function refusalOf (err: unknown): { code: ReasonCode, by: 'local' | 'remote' } | undefined {
  const message = err instanceof Error ? err.message : String(err)
  const match = REFUSAL_MESSAGE.exec(message)
  if (match === null || !isReasonCode(match[2])) return undefined
  return { code: match[2], by: match[1] === 'remote' ? 'remote' : 'local' }
}

/**
 * fedgate's connection encrypter: Noise XX, then, inside the secured channel and before the muxer,
 * the membership exchange (see hello.ts). Both sides verify the other's credential against their
 * roster and against the key Noise authenticated; either side's refusal aborts the upgrade, so the
 * connection never reaches the muxer, the peer store or a protocol handler.
 */
export function membershipEncrypter (gate: FederationGate, init: MembershipEncrypterInit = {}): (components: NoiseComponents) => ConnectionEncrypter {
  return (components) => {
    const inner = noise(init.noise)(components)
    return {
      protocol: ENCRYPTER_PROTOCOL,
      async secureInbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        const signal = deadline(gate.handshakeTimeoutMs, options?.signal)
        const secured = await withDeadline(inner.secureInbound(connection, { ...options, signal }), gate, 'inbound', connection)
        return exchange(gate, secured, 'inbound', signal, connection)
      },
      async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        const signal = deadline(gate.handshakeTimeoutMs, options?.signal)
        const secured = await withDeadline(inner.secureOutbound(connection, { ...options, signal }), gate, 'outbound', connection)
        return exchange(gate, secured, 'outbound', signal, connection)
      }
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
  return (components) => {
    const inner = noise(init.noise)(components)
    const refuseOutsider = async (direction: 'inbound' | 'outbound', connection: MessageStream, handshake: Promise<SecuredConnection>): Promise<never> => {
      const secured = await withDeadline(handshake, gate, direction, connection)
      gate.refuse({ code: 'no-credential', by: 'local', stage: 'handshake', direction, peerId: secured.remotePeer.toString(), remoteAddr: remoteAddrOf(connection) })
      secured.connection.abort(new Error('fedgate: no-credential'))
      throw new MembershipRefusedError('no-credential', 'local', 'the peer speaks plain Noise without fedgate')
    }
    return {
      protocol: PLAIN_NOISE_PROTOCOL,
      async secureInbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        const signal = deadline(gate.handshakeTimeoutMs, options?.signal)
        return refuseOutsider('inbound', connection, inner.secureInbound(connection, { ...options, signal }))
      },
      async secureOutbound (connection: MessageStream, options?: SecureConnectionOptions): Promise<SecuredConnection> {
        // Dialling a peer that does not speak fedgate has no use: refuse before any Noise work.
        gate.refuse({ code: 'no-credential', by: 'local', stage: 'handshake', direction: 'outbound', peerId: options?.remotePeer?.toString(), remoteAddr: remoteAddrOf(connection) })
        connection.abort(new Error('fedgate: no-credential'))
        throw new MembershipRefusedError('no-credential', 'local', 'the peer does not offer fedgate')
      }
    }
  }
}

function deadline (ms: number, outer: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  return outer === undefined ? timeout : AbortSignal.any([outer, timeout])
}

/** Noise itself running past the deadline is a handshake-timeout refusal too. */
async function withDeadline (handshake: Promise<SecuredConnection>, gate: FederationGate, direction: 'inbound' | 'outbound', raw: MessageStream): Promise<SecuredConnection> {
  try {
    return await handshake
  } catch (err) {
    if (isAbort(err)) {
      gate.refuse({ code: 'handshake-timeout', by: 'local', stage: 'handshake', direction, remoteAddr: remoteAddrOf(raw) })
      throw new MembershipRefusedError('handshake-timeout', 'local', 'Noise did not complete in time')
    }
    throw err
  }
}

async function exchange (gate: FederationGate, secured: SecuredConnection, direction: 'inbound' | 'outbound', signal: AbortSignal, raw: MessageStream): Promise<SecuredConnection> {
  const remotePeer = secured.remotePeer.toString()
  const remoteAddr = remoteAddrOf(raw)
  const lp = lpStream(secured.connection, { maxDataLength: MAX_HELLO_BYTES })
  let credential: Credential | undefined
  let reserved = false
  const refuse = async (code: ReasonCode, by: 'local' | 'remote', memberId?: string, detail?: string): Promise<never> => {
    if (reserved && credential !== undefined) gate.cancel(remotePeer, credential)
    reserved = false
    gate.refuse({ code, by, stage: 'handshake', direction, peerId: remotePeer, memberId, remoteAddr })
    if (by === 'local' && code !== 'handshake-timeout') {
      try {
        await lp.write(encodeHello({ verdict: code }), { signal })
        await secured.connection.close({ signal })
      } catch {
        // The peer may have gone already; the upgrade is aborted either way.
      }
    }
    secured.connection.abort(new Error(`fedgate: ${code}`))
    throw new MembershipRefusedError(code, by, detail)
  }

  try {
    if (direction === 'outbound') {
      await lp.write(encodeHello({ hello: gate.hello() }), { signal })
      const reply = decodeHello((await lp.read({ signal })).subarray(), { hello: true, verdict: true })
      if (reply.verdict !== 'ok' && reply.verdict !== undefined) return await refuse(reply.verdict, 'remote')
      if (reply.hello === undefined) return await refuse('no-credential', 'local')
      credential = reply.hello.credential
      const code = gate.judge(reply.hello, remotePeer, direction)
      if (code !== null) return await refuse(code, 'local', credential.memberId)
      reserved = true
      await lp.write(encodeHello({ verdict: 'ok' }), { signal })
    } else {
      const hello = decodeHello((await lp.read({ signal })).subarray(), { hello: true, verdict: false }).hello
      if (hello === undefined) return await refuse('no-credential', 'local')
      credential = hello.credential
      const code = gate.judge(hello, remotePeer, direction)
      if (code !== null) return await refuse(code, 'local', credential.memberId)
      reserved = true
      await lp.write(encodeHello({ hello: gate.hello(), verdict: 'ok' }), { signal })
      const final = decodeHello((await lp.read({ signal })).subarray(), { hello: false, verdict: true })
      if (final.verdict !== 'ok') return await refuse(final.verdict ?? 'malformed', 'remote', credential.memberId)
    }
  } catch (err) {
    if (err instanceof MembershipRefusedError) throw err
    if (err instanceof HelloError) return refuse(err.code, 'local', credential?.memberId, err.message)
    if (isAbort(err)) return refuse('handshake-timeout', 'local', credential?.memberId)
    const name = err instanceof Error ? err.name : ''
    if (name === 'InvalidDataLengthError' || name === 'InvalidMessageLengthError') return refuse('malformed', 'local', credential?.memberId, `hello larger than ${MAX_HELLO_BYTES} bytes`)
    if (name === 'UnexpectedEOFError') return refuse('malformed', 'local', credential?.memberId, 'connection closed during the membership exchange')
    if (reserved && credential !== undefined) gate.cancel(remotePeer, credential)
    throw err
  }
  return { ...secured, connection: lp.unwrap() }
}

function isAbort (err: unknown): boolean {
  const name = err instanceof Error ? err.name : ''
  return name === 'AbortError' || name === 'TimeoutError'
}

function remoteAddrOf (raw: MessageStream): string | undefined {
  const addr = (raw as { remoteAddr?: { toString (): string } }).remoteAddr
  return addr?.toString()
}
