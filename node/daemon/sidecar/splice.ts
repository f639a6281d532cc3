import { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** How a spliced pair ended: cleanly (both sides closed both ways), or with the first error. */
export interface SpliceEnd {
  readonly error: Error | undefined
  /** Which side failed first, when one did. */
  readonly failed: 'a' | 'b' | undefined
}

/**
 * Joins two duplexes into one bidirectional pipe: what `a` reads is written to `b` and the other
 * way round, with Node's backpressure (a side whose reader is slow pauses the other's source). A
 * side that ends its readable half ends the other's writable half (TCP half-close is passed on).
 * When either side fails, or is closed without finishing both ways, the other is torn down too
 * (a TCP socket with a reset, so its peer cannot mistake it for a clean end). Resolves once both
 * sides closed.
 */
export async function splice (a: Duplex, b: Duplex): Promise<SpliceEnd> {
  let error: Error | undefined
  let failed: 'a' | 'b' | undefined
  const fail = (side: 'a' | 'b', err: Error): void => {
    if (error !== undefined) return
    error = err
    failed = side
    const other = side === 'a' ? b : a
    if (other instanceof Socket) other.resetAndDestroy()
    else other.destroy(err)
  }
  const closed = (side: 'a' | 'b', stream: Duplex): Promise<void> => new Promise(resolve => {
    stream.on('error', (err: Error) => { fail(side, err) })
    stream.once('close', () => {
      // A side closed before it finished both ways was cut: its partner must not wait for it.
      if (!(stream.readableEnded && stream.writableFinished)) fail(side, stream.errored ?? new Error('closed before both directions finished'))
      resolve()
    })
  })
  const done = Promise.all([closed('a', a), closed('b', b)])
  a.pipe(b)
  b.pipe(a)
  await done
  return { error, failed }
}
