import type { Stream, StreamMessageEvent } from '@libp2p/interface'
import { isReasonCode, type ReasonCode } from '../../../membership/index.ts'

/** The protocol id a node serves an exposed service under; the roster's policy.protocols lists who may open it. */
export function tunnelProtocol (name: string): string {
  return `/fedgate/tcp/${name}/1.0.0`
}

/** What the exposing node tells the forwarding node first on every tunnel stream. */
export type TunnelVerdict = 'ok' | ReasonCode

/** A verdict is one length byte and that many ASCII bytes; reason codes are far shorter. */
const MAX_VERDICT_BYTES = 64

/**
 * The exposing side's first bytes on a tunnel stream: `ok` once the target accepted the TCP
 * connection, or the reason code it did not (then the stream closes). So a forward can log why a
 * tunnel failed instead of seeing only a closed stream.
 */
export function encodeTunnelVerdict (verdict: TunnelVerdict): Uint8Array {
  const text = new TextEncoder().encode(verdict)
  const bytes = new Uint8Array(1 + text.byteLength)
  bytes[0] = text.byteLength
  bytes.set(text, 1)
  return bytes
}

/**
 * Reads the verdict at the start of a tunnel stream; whatever follows it stays queued on the
 * stream for the next reader. Null when the stream ends, resets or stays silent until `signal`
 * aborts first; `malformed` when the bytes are not a verdict.
 */
export async function readTunnelVerdict (stream: Stream, signal: AbortSignal): Promise<TunnelVerdict | null> {
  return await new Promise(resolve => {
    let buffered = new Uint8Array(0)
    let done = false
    const finish = (verdict: TunnelVerdict | null): void => {
      if (done) return
      done = true
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onEnd)
      stream.removeEventListener('remoteCloseWrite', onRemoteEnd)
      signal.removeEventListener('abort', onEnd)
      resolve(verdict)
    }
    const onEnd = (): void => { finish(null) }
    // yamux reports a FIN before the data of the same frame: let that data arrive first.
    const onRemoteEnd = (): void => { queueMicrotask(onEnd) }
    const onMessage = (evt: StreamMessageEvent): void => {
      const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      const joined = new Uint8Array(buffered.byteLength + data.byteLength)
      joined.set(buffered)
      joined.set(data, buffered.byteLength)
      buffered = joined
      const length = buffered[0] ?? 0
      if (buffered.byteLength === 0) return
      if (length === 0 || length > MAX_VERDICT_BYTES) {
        finish('malformed')
        return
      }
      if (buffered.byteLength < 1 + length) return
      const text = new TextDecoder().decode(buffered.subarray(1, 1 + length))
      const rest = buffered.subarray(1 + length)
      // Queued for the next reader, ahead of anything that arrives later.
      if (rest.byteLength > 0) stream.unshift(rest)
      finish(text === 'ok' || isReasonCode(text) ? text : 'malformed')
    }
    if (signal.aborted) {
      resolve(null)
      return
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onEnd)
    stream.addEventListener('remoteCloseWrite', onRemoteEnd)
    signal.addEventListener('abort', onEnd)
  })
}
