import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ECHO_PROTOCOL } from '../federation.ts'

/** The request of every benchmark op. */
export const PING = new Uint8Array([1, 2, 3, 4])
/** Bounds an op that hangs (libp2p's own dial and close timeouts bound the rest). */
export const OP_TIMEOUT_MS = 10_000

/** The listener side of an op: read one message, echo it, close. */
export async function serveEcho (stream: Stream): Promise<void> {
  const lp = lpStream(stream)
  await lp.write((await lp.read()).subarray())
  await stream.close()
}

/** One libp2p op, the same for fedgate and bare libp2p: a new connection, one echo stream, close. */
export async function connectEchoClose (dialer: { dial: (target: Multiaddr) => Promise<Connection> }, target: Multiaddr): Promise<void> {
  const connection = await dialer.dial(target)
  try {
    const stream = await connection.newStream(ECHO_PROTOCOL)
    const signal = AbortSignal.timeout(OP_TIMEOUT_MS)
    const lp = lpStream(stream)
    await lp.write(PING, { signal })
    await lp.read({ signal })
    await stream.close({ signal })
  } finally {
    await connection.close()
  }
}

/** Round-robin over a loop's own dialers, so `concurrency` loops never share a dialer. */
export function dialerFor<T> (pool: readonly T[], concurrency: number, loop: number, iteration: number): T {
  const perLoop = Math.max(1, Math.floor(pool.length / concurrency))
  const dialer = pool[(loop + concurrency * (iteration % perLoop)) % pool.length]
  if (dialer === undefined) throw new Error('empty dialer pool')
  return dialer
}
