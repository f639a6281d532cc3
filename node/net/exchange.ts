import type { SecuredConnection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Credential, ReasonCode } from '../../membership/index.ts'
import type { Handshake } from '../gate/admission.ts'
import type { GateInternals } from '../gate/internals.ts'
import type { Slot } from '../gate/slots.ts'
import type { Direction } from '../types.ts'
import { isAbort, MembershipRefusedError } from './refusal.ts'
import { decodeHello, decodeVerdict, encodeHello, encodeVerdict, HelloError, MAX_HELLO_BYTES } from './hello.ts'

/**
 * The membership exchange on a Noise-secured channel (message layout in hello.ts). The dialer
 * speaks first; the listener judges the dialer's hello and answers with its own hello and verdict;
 * the dialer judges that and sends its verdict. A peer that passes holds a connection slot from
 * that moment; any refusal frees it, tells the other side the reason code when it was ours, and
 * aborts the upgrade.
 */
export async function exchange (internals: GateInternals, secured: SecuredConnection, direction: Direction, signal: AbortSignal, remoteAddr: string | undefined): Promise<SecuredConnection> {
  const remotePeer = secured.remotePeer.toString()
  const lp = lpStream(secured.connection, { maxDataLength: MAX_HELLO_BYTES })
  let credential: Credential | undefined
  let slot: Slot<Handshake> | undefined

  const refuse = async (code: ReasonCode, by: 'local' | 'remote', detail?: string): Promise<never> => {
    slot?.release()
    internals.refusals.record({ code, by, stage: 'handshake', direction, peerId: remotePeer, memberId: credential?.memberId, remoteAddr })
    if (by === 'local' && code !== 'handshake-timeout') {
      try {
        await lp.write(encodeVerdict(code), { signal })
        await secured.connection.close({ signal })
      } catch {
        // The peer may have gone already; the upgrade is aborted either way.
      }
    }
    secured.connection.abort(new Error(`fedgate: ${code}`))
    throw new MembershipRefusedError(code, by, detail)
  }
  const judge = (hello: { credential: Credential, rosterEpoch: number }): ReasonCode | null => {
    credential = hello.credential
    const verdict = internals.admit(hello, remotePeer, direction)
    if (typeof verdict === 'string') return verdict
    slot = verdict
    return null
  }

  try {
    if (direction === 'outbound') {
      await lp.write(encodeHello(internals.hello()), { signal })
      const reply = decodeHello((await lp.read({ signal })).subarray(), true)
      if (reply.hello === undefined) return await refuse(reply.verdict, 'remote')
      const code = judge(reply.hello)
      if (code !== null) return await refuse(code, 'local')
      await lp.write(encodeVerdict('ok'), { signal })
    } else {
      const message = decodeHello((await lp.read({ signal })).subarray(), false)
      if (message.hello === undefined) return await refuse('no-credential', 'local', `the dialer sent ${message.verdict} instead of a hello`)
      const code = judge(message.hello)
      if (code !== null) return await refuse(code, 'local')
      await lp.write(encodeHello(internals.hello(), 'ok'), { signal })
      const final = decodeVerdict((await lp.read({ signal })).subarray())
      if (final !== 'ok') return await refuse(final, 'remote')
    }
  } catch (err) {
    if (err instanceof MembershipRefusedError) throw err
    if (err instanceof HelloError) return refuse(err.code, 'local', err.message)
    if (isAbort(err)) return refuse('handshake-timeout', 'local')
    const name = err instanceof Error ? err.name : ''
    if (name === 'InvalidDataLengthError' || name === 'InvalidMessageLengthError') return refuse('malformed', 'local', `hello larger than ${MAX_HELLO_BYTES} bytes`)
    if (name === 'UnexpectedEOFError') return refuse('malformed', 'local', 'connection closed during the membership exchange')
    slot?.release()
    throw err
  }
  return { ...secured, connection: lp.unwrap() }
}
