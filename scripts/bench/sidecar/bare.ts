import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream, StreamMessageEvent } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { PING_TIMEOUT_MAX_MS, PING_TIMEOUT_MIN_MS } from '../../../node/daemon/index.ts'
import { nodeNoiseCrypto } from '../../../node/index.ts'
import { CHUNK_BYTES, ECHO_BYTES } from './tcp.ts'

export const BARE_SINK = '/bench/sink/1.0.0'
export const BARE_ECHO = '/bench/echo/1.0.0'
const PEER_SCRIPT = fileURLToPath(new URL('./bare-peer.ts', import.meta.url))

/** A bare libp2p node: TCP, Noise with the crypto fedgate uses, yamux. */
export async function bareNode (listen: boolean): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto: nodeNoiseCrypto })],
    streamMuxers: [yamux()],
    // The ping timeout the daemon runs with, so a ping queued behind bulk data does not cut the baseline either.
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS, maxTimeout: PING_TIMEOUT_MAX_MS } }
  })
}

/** Counts what arrives; once the dialer closes its side, answers the count (8 bytes) and closes. */
export function serveSink (stream: Stream): void {
  let count = 0
  stream.addEventListener('message', (evt: StreamMessageEvent) => { count += evt.data.byteLength })
  stream.addEventListener('remoteCloseWrite', () => {
    const answer = Buffer.alloc(8)
    answer.writeBigUInt64BE(BigInt(count))
    stream.send(answer)
    void stream.close()
  })
}

/** Sends back what arrives. */
export function serveEcho (stream: Stream): void {
  stream.addEventListener('message', (evt: StreamMessageEvent) => { stream.send(evt.data) })
  stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
}

/** The bare baseline: a listener in its own process, and a dialer node here. */
export interface BarePair {
  readonly pid: number | undefined
  throughput (bytes: number): Promise<number>
  echoRoundTrips (rounds: number, warmup: number): Promise<number[]>
  stop (): Promise<void>
}

export async function startBarePair (): Promise<BarePair> {
  const child: ChildProcess = spawn(process.execPath, [PEER_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] })
  const addr = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (out.includes('\n')) resolve(out.trim())
    })
    child.once('exit', code => { reject(new Error(`the bare libp2p peer exited (${String(code)})`)) })
  })
  const node = await bareNode(false)
  const target = multiaddr(addr)
  return {
    pid: child.pid,
    async throughput (bytes) {
      const payload = randomBytes(CHUNK_BYTES)
      const started = performance.now()
      const stream = await node.dialProtocol(target, BARE_SINK)
      const answer = readBytes(stream, 8)
      for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
        // Not stream.onDrain(): in @libp2p/utils 7.4 it stays resolved after the first drain.
        if (!stream.send(bytes - sent >= CHUNK_BYTES ? payload : payload.subarray(0, bytes - sent))) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
      }
      await stream.close()
      const count = (await answer).readBigUInt64BE()
      const seconds = (performance.now() - started) / 1000
      if (count !== BigInt(bytes)) throw new Error(`the bare sink counted ${count} bytes, ${bytes} were sent`)
      return bytes / 1e6 / seconds
    },
    async echoRoundTrips (rounds, warmup) {
      const stream = await node.dialProtocol(target, BARE_ECHO)
      const request = randomBytes(ECHO_BYTES)
      const times: number[] = []
      for (let i = 0; i < warmup + rounds; i++) {
        const started = performance.now()
        const reply = readBytes(stream, ECHO_BYTES)
        stream.send(request)
        await reply
        if (i >= warmup) times.push(performance.now() - started)
      }
      await stream.close()
      return times
    },
    async stop () {
      await node.stop()
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** Resolves with the next `bytes` bytes the stream delivers. */
async function readBytes (stream: Stream, bytes: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onMessage = (evt: StreamMessageEvent): void => {
      const data = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      chunks.push(Buffer.from(data))
      size += data.byteLength
      if (size < bytes) return
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onClose)
      resolve(Buffer.concat(chunks))
    }
    const onClose = (): void => { reject(new Error(`the stream closed after ${size} of ${bytes} bytes`)) }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onClose)
  })
}
