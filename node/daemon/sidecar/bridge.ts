import type { Socket } from 'node:net'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

/**
 * yamux's largest stream receive window. A paused stream stops granting its peer send credit, so it
 * receives at most one window more; libp2p's default read buffer limit (4 MiB) would reset a tunnel
 * whose TCP reader is slow, so the limit is raised to the window plus one frame.
 */
export const MAX_STREAM_WINDOW_BYTES = 16 * 1024 * 1024
const MAX_FRAME_BYTES = 256 * 1024
/**
 * How much may queue in the stream (client to peer) or in the socket (peer to client) before the
 * other side is paused. Pausing at every full buffer (a 64 KiB read already fills the socket's
 * 16 KiB mark) would stop and restart reading for every chunk; this keeps a tunnel streaming and
 * its memory bounded.
 */
const HIGH_WATER_BYTES = 1024 * 1024

/** Lets a paused stream hold what its peer may still send: one full yamux window. */
export function allowFullWindow (stream: Stream): void {
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, MAX_STREAM_WINDOW_BYTES + MAX_FRAME_BYTES)
}

/**
 * Pauses a stream once the current dispatch is over, if its reader is still full then. A pause from
 * inside a 'message' handler that `resume()` dispatched would be undone: `resume()` tells yamux to
 * send window updates again right after dispatching, and the peer would be granted credit while
 * nothing reads. And the reader may have drained meanwhile (a socket whose write completed at once
 * emits 'drain' on the next tick), when pausing would wait for a drain that already came.
 */
export function pauseSoon (stream: Stream, stillFull: () => boolean): void {
  queueMicrotask(() => { if (stillFull() && stream.readStatus === 'readable') stream.pause() })
}

export interface BridgeCounters {
  /** Bytes handed to the stream. */
  sent (bytes: number): void
  /** Bytes the stream delivered. */
  received (bytes: number): void
}

/**
 * Carries bytes between a TCP socket and a libp2p stream until both are closed, and resolves with
 * the first error (undefined when both ended cleanly). Straight from event to event, with no copy:
 * - socket data goes to `stream.send()`; when that reports a full buffer the socket is paused
 *   until the stream drains;
 * - stream data goes to `socket.write()` (one corked batch per message); when the socket's buffer
 *   is full the stream is paused (yamux then grants its peer no more credit) until the socket drains;
 * - the client's FIN closes the stream's writable side once its data is out, and the peer's FIN
 *   ends the socket once its data is delivered: half-close passes through both ways;
 * - a reset on either side resets the other (a socket reset, so its peer cannot mistake a cut
 *   tunnel for a clean end).
 */
export async function bridge (socket: Socket, stream: Stream, counters: BridgeCounters): Promise<Error | undefined> {
  allowFullWindow(stream)
  let error: Error | undefined
  const fail = (err: Error): void => {
    error ??= err
    if (stream.status === 'open') stream.abort(err)
    if (!socket.destroyed) socket.resetAndDestroy()
  }
  const onSocketData = (chunk: Buffer): void => {
    counters.sent(chunk.byteLength)
    let more: boolean
    try {
      more = stream.send(chunk)
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (more || stream.writeBufferLength < HIGH_WATER_BYTES) return
    // Not stream.onDrain(): in @libp2p/utils 7.4 it stays resolved after the first drain.
    socket.pause()
    stream.addEventListener('drain', () => { socket.resume() }, { once: true })
  }
  const onSocketEnd = (): void => {
    stream.close().catch((err: Error) => { fail(err) })
  }
  const onDrain = (): void => {
    if (stream.readStatus === 'paused') stream.resume()
  }
  const onMessage = (evt: StreamMessageEvent): void => {
    const data = evt.data
    counters.received(data.byteLength)
    let more = true
    if (data instanceof Uint8Array) {
      more = socket.write(data)
    } else {
      socket.cork()
      for (const chunk of data) more = socket.write(chunk)
      socket.uncork()
    }
    if (!more && socket.writableLength >= HIGH_WATER_BYTES) pauseSoon(stream, () => socket.writableNeedDrain)
  }
  const onStreamEnd = (): void => {
    // A reset also ends the readable side; 'close' then resets the socket instead.
    if (stream.status === 'reset' || stream.status === 'aborted') return
    // yamux reports a FIN before the data of the same frame: let that data arrive first.
    queueMicrotask(() => { if (!socket.destroyed) socket.end() })
  }
  const streamClosed = new Promise<void>(resolve => {
    if (stream.status !== 'open') {
      fail(new Error('the stream closed before the tunnel opened'))
      resolve()
      return
    }
    stream.addEventListener('close', (evt: StreamCloseEvent) => {
      if (evt.error !== undefined) fail(evt.error)
      resolve()
    }, { once: true })
  })
  const socketClosed = new Promise<void>(resolve => {
    if (socket.closed) {
      fail(new Error('the TCP connection closed before the tunnel opened'))
      resolve()
      return
    }
    socket.once('close', () => {
      // A socket closed before it finished both ways was cut: the stream must not wait for it.
      if (!(socket.readableEnded && socket.writableFinished)) fail(socket.errored ?? new Error('the TCP connection closed before both directions finished'))
      resolve()
    })
  })
  socket.on('error', (err: Error) => { fail(err) })
  socket.on('data', onSocketData)
  socket.on('end', onSocketEnd)
  socket.on('drain', onDrain)
  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onStreamEnd)
  if (stream.readableEnded) onStreamEnd()
  socket.resume()
  if (stream.readStatus === 'paused') stream.resume()
  await Promise.all([streamClosed, socketClosed])
  stream.removeEventListener('message', onMessage)
  stream.removeEventListener('end', onStreamEnd)
  return error
}
