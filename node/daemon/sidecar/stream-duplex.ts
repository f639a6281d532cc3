import { Duplex } from 'node:stream'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { allowFullWindow, pauseSoon } from './bridge.ts'

/** What Node buffers on each side of the adapter before it pushes back. */
const HIGH_WATER_MARK_BYTES = 64 * 1024

export interface StreamDuplexInit {
  /** Called with each chunk's size as it is handed to the stream. */
  onSent?: (bytes: number) => void
  /** Called with each chunk's size as it arrives from the stream. */
  onReceived?: (bytes: number) => void
}

/**
 * A libp2p stream as a Node Duplex (for node:http in HTTP mode; plain TCP tunnels use `bridge`),
 * with backpressure both ways and half-close kept:
 * - writes go to `stream.send()`; when it reports a full buffer, the write completes only on 'drain';
 * - arriving data is pushed to the reader; when the reader falls behind, the stream is paused (yamux
 *   then stops granting send credit) and resumed when the reader asks for more;
 * - `end()` closes the stream's writable side (FIN) once sent data is out; the peer's FIN ends the
 *   readable side once its data is read;
 * - a reset or abort destroys the Duplex with the error, and destroying the Duplex aborts the stream.
 */
export class StreamDuplex extends Duplex {
  readonly stream: Stream
  private readonly onSent: (bytes: number) => void
  private readonly onReceived: (bytes: number) => void
  /** True from a push the reader refused until it asks for more. */
  private readerFull = false

  constructor (stream: Stream, init: StreamDuplexInit = {}) {
    super({ allowHalfOpen: true, readableHighWaterMark: HIGH_WATER_MARK_BYTES, writableHighWaterMark: HIGH_WATER_MARK_BYTES })
    this.stream = stream
    this.onSent = init.onSent ?? (() => {})
    this.onReceived = init.onReceived ?? (() => {})
    allowFullWindow(stream)
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('end', this.onEnd)
    stream.addEventListener('close', this.onClose)
    if (stream.readableEnded) this.onEnd()
  }

  override _read (): void {
    this.readerFull = false
    if (this.stream.readStatus === 'paused') this.stream.resume()
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    let more: boolean
    try {
      more = this.stream.send(chunk)
    } catch (err) {
      callback(err instanceof Error ? err : new Error(String(err)))
      return
    }
    this.onSent(chunk.byteLength)
    if (more) {
      callback()
      return
    }
    // Not stream.onDrain(): in @libp2p/utils 7.4 it stays resolved after the first drain.
    const onDrain = (): void => {
      this.stream.removeEventListener('close', onClose)
      callback()
    }
    const onClose = (evt: StreamCloseEvent): void => {
      this.stream.removeEventListener('drain', onDrain)
      callback(evt.error ?? new Error('the stream closed before it drained'))
    }
    this.stream.addEventListener('drain', onDrain, { once: true })
    this.stream.addEventListener('close', onClose, { once: true })
  }

  override _final (callback: (err?: Error | null) => void): void {
    this.stream.close().then(() => { callback() }, (err: Error) => { callback(err) })
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('end', this.onEnd)
    this.stream.removeEventListener('close', this.onClose)
    if (this.stream.status === 'open' || this.stream.status === 'closing') this.stream.abort(err ?? new Error('tunnel closed'))
    callback(err)
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    const data = evt.data
    let more = true
    if (data instanceof Uint8Array) {
      this.onReceived(data.byteLength)
      more = this.push(data)
    } else {
      this.onReceived(data.byteLength)
      for (const chunk of data) more = this.push(chunk)
    }
    if (!more) {
      this.readerFull = true
      pauseSoon(this.stream, () => this.readerFull)
    }
  }

  private readonly onEnd = (): void => {
    // A reset also ends the readable side; 'close' then destroys with the error instead.
    if (this.stream.status === 'reset' || this.stream.status === 'aborted') return
    // yamux reports a FIN before the data of the same frame: let that data arrive first.
    queueMicrotask(() => { if (!this.destroyed) this.push(null) })
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    if (evt.error !== undefined) this.destroy(evt.error)
  }
}
