import { randomBytes } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/** The size of each write a throughput client makes. */
export const CHUNK_BYTES = 64 * 1024
/** The echo request: small, like a consensus vote or an RPC call. */
export const ECHO_BYTES = 32

/** Bench servers on 127.0.0.1: a sink that answers the byte count once the client half-closes, and an echo. */
export interface BenchServers {
  readonly sinkPort: number
  readonly echoPort: number
  close (): Promise<void>
}

export async function startBenchServers (): Promise<BenchServers> {
  const sink = createServer({ allowHalfOpen: true, noDelay: true }, socket => {
    let count = 0
    socket.on('data', (chunk: Buffer) => { count += chunk.byteLength })
    socket.on('end', () => {
      const answer = Buffer.alloc(8)
      answer.writeBigUInt64BE(BigInt(count))
      socket.end(answer)
    })
    socket.on('error', () => {})
  })
  const echo = createServer({ allowHalfOpen: true, noDelay: true }, socket => {
    socket.pipe(socket)
    socket.on('error', () => {})
  })
  const sinkPort = await listen(sink)
  const echoPort = await listen(echo)
  return {
    sinkPort,
    echoPort,
    async close () {
      await Promise.all([sink, echo].map(async server => await new Promise(resolve => { server.close(resolve) })))
    }
  }
}

/** Sends `bytes` to a sink at `port` and waits for its count: MB/s from connect to answer. */
export async function tcpThroughput (port: number, bytes: number): Promise<number> {
  const payload = randomBytes(CHUNK_BYTES)
  const started = performance.now()
  const socket = await open(port)
  const answer = collect(socket, 8)
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    const chunk = bytes - sent >= CHUNK_BYTES ? payload : payload.subarray(0, bytes - sent)
    if (!socket.write(chunk)) await new Promise(resolve => socket.once('drain', resolve))
  }
  socket.end()
  const count = (await answer).readBigUInt64BE()
  const seconds = (performance.now() - started) / 1000
  socket.destroy()
  if (count !== BigInt(bytes)) throw new Error(`the sink counted ${count} bytes, ${bytes} were sent`)
  return bytes / 1e6 / seconds
}

/** Round trips of an ECHO_BYTES request on one connection: each time in ms, after `warmup` unmeasured ones. */
export async function tcpEchoRoundTrips (port: number, rounds: number, warmup: number): Promise<number[]> {
  const socket = await open(port)
  const request = randomBytes(ECHO_BYTES)
  const times: number[] = []
  let pending: { need: number, resolve: () => void } | undefined
  socket.on('data', (chunk: Buffer) => {
    if (pending === undefined) return
    pending.need -= chunk.byteLength
    if (pending.need <= 0) pending.resolve()
  })
  for (let i = 0; i < warmup + rounds; i++) {
    const started = performance.now()
    await new Promise<void>(resolve => {
      pending = { need: ECHO_BYTES, resolve }
      socket.write(request)
    })
    if (i >= warmup) times.push(performance.now() - started)
  }
  socket.destroy()
  return times
}

async function open (port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true, allowHalfOpen: true })
    socket.once('connect', () => { resolve(socket) })
    socket.once('error', reject)
  })
}

async function collect (socket: Socket, bytes: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.byteLength
      if (size >= bytes) resolve(Buffer.concat(chunks))
    })
    socket.once('end', () => { reject(new Error(`the connection ended after ${size} of ${bytes} bytes`)) })
    socket.once('error', reject)
  })
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return (server.address() as AddressInfo).port
}
