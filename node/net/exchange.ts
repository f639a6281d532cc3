import type { SecuredConnection } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Credential, ReasonCode } from '../../membership/index.ts'
import type { Handshake } from '../gate/admission.ts'
import type { GateInternals } from '../gate/internals.ts'
import type { Slot } from '../gate/slots.ts'
import { MAX_FRAME_BYTES } from '../sync/wire.ts'
import type { Direction } from '../types.ts'
import { isAbort, MembershipRefusedError } from './refusal.ts'
import { decodeFinal, decodeHello, encodeHello, encodePull, encodeVerdict, HelloError, MAX_HELLO_BYTES, type Hello, type HelloMessage } from './hello.ts'
import { ipOf } from './ip.ts'

/**
 * Verdicts a newer roster epoch could change (a member added, a role or key changed, a revocation
 * lifted, a policy changed): worth catching up on before they are final. A wrong federation, a
 * wrong key, an expired credential or a malformed hello is not.
 */
const CATCH_UP_VERDICTS: ReadonlySet<ReasonCode> = new Set(['unknown-member', 'role-not-held', 'role-not-accepted', 'revoked', 'ttl-exceeded', 'bad-signature'])

/**
 * The membership exchange on a Noise-secured channel (message layout in hello.ts). The dialer
 * speaks first; the listener judges the dialer's hello and answers with its own hello and verdict;
 * the dialer judges that and sends its verdict. A peer that passes holds a connection slot from
 * that moment; any refusal frees it, tells the other side the reason code when it was ours, and
 * aborts the upgrade.
 *
 * Catch-up: when a side's verdict is one a newer roster could change and the other side runs a
 * newer epoch, it first pulls the epochs it lacks over this channel (signed epochs only, each
 * checked by the roster store, within the handshake deadline, one catch-up at a time node-wide),
 * then judges again. A stale dialer catches up from the listener it dials, and a stale listener
 * from the dialer.
 */
export async function exchange (internals: GateInternals, secured: SecuredConnection, direction: Direction, signal: AbortSignal, remoteAddr: string | undefined): Promise<SecuredConnection> {
  const remotePeer = secured.remotePeer.toString()
  // Frames are hello-sized, except the epochs a catch-up carries.
  const lp = lpStream(secured.connection, { maxDataLength: MAX_FRAME_BYTES })
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
  const judge = (hello: Hello): ReasonCode | null => {
    credential = hello.credential
    const verdict = internals.admit(hello, remotePeer, direction)
    if (typeof verdict === 'string') return verdict
    slot = verdict
    return null
  }
  /** Judges `hello`, first catching up from the peer when a newer roster could change the verdict. */
  const judgeWithCatchUp = async (hello: Hello): Promise<ReasonCode | null> => {
    const code = judge(hello)
    const sync = internals.sync
    const key = ipOf(remoteAddr) ?? remotePeer
    if (code === null || !CATCH_UP_VERDICTS.has(code) || sync === undefined || hello.rosterEpoch <= internals.hello().rosterEpoch || !sync.mayCatchUp(key)) return code
    await sync.catchUp(key, async () => {
      await lp.write(encodePull(internals.hello().rosterEpoch), { signal })
      return await sync.fetchEpochs(lp, `peer ${remotePeer} (catch-up)`, signal)
    })
    return judge(hello)
  }
  /** Reads the peer's next exchange message, serving its catch-up pulls on the way. */
  const read = async <T extends { pull?: number }>(decode: (bytes: Uint8Array) => T): Promise<T> => {
    for (;;) {
      const message = decode(helloSized((await lp.read({ signal })).subarray()))
      if (message.pull === undefined || internals.sync === undefined) return message
      await internals.sync.sendEpochs(lp, message.pull, signal)
    }
  }

  try {
    if (direction === 'outbound') {
      await lp.write(encodeHello(internals.hello()), { signal })
      const reply = await read<HelloMessage>(bytes => decodeHello(bytes, true))
      if (reply.hello === undefined) return await refuse(reply.verdict ?? 'malformed', reply.verdict === undefined ? 'local' : 'remote')
      const code = await judgeWithCatchUp(reply.hello)
      if (code !== null) return await refuse(code, 'local')
      await lp.write(encodeVerdict('ok'), { signal })
    } else {
      const message = await read<HelloMessage>(bytes => decodeHello(bytes, false))
      if (message.hello === undefined) return await refuse('no-credential', 'local', `the dialer sent ${message.verdict ?? 'a pull'} instead of a hello`)
      const code = await judgeWithCatchUp(message.hello)
      if (code !== null) return await refuse(code, 'local')
      await lp.write(encodeHello(internals.hello(), 'ok'), { signal })
      const final = await read(decodeFinal)
      if (final.verdict !== 'ok') return await refuse(final.verdict ?? 'malformed', 'remote')
    }
  } catch (err) {
    if (err instanceof MembershipRefusedError) throw err
    if (err instanceof HelloError) return refuse(err.code, 'local', err.message)
    if (isAbort(err)) return refuse('handshake-timeout', 'local')
    const name = err instanceof Error ? err.name : ''
    if (name === 'InvalidDataLengthError' || name === 'InvalidMessageLengthError') return refuse('malformed', 'local', `a frame larger than ${MAX_FRAME_BYTES} bytes`)
    if (name === 'UnexpectedEOFError') return refuse('malformed', 'local', 'connection closed during the membership exchange')
    if (name === 'SyncProtocolError') return refuse('malformed', 'local', `catch-up: ${err instanceof Error ? err.message : String(err)}`)
    slot?.release()
    throw err
  }
  return { ...secured, connection: lp.unwrap() }
}

/** A hello-exchange message, refused when larger than a hello may be. */
function helloSized (bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength > MAX_HELLO_BYTES) throw new HelloError('malformed', `hello larger than ${MAX_HELLO_BYTES} bytes`)
  return bytes
}

