/**
 * Slow suite (npm run test:slow): 1 GiB each way through one tunnel at once, read slowly and with
 * a long stall at both ends, arrives with the same SHA-256; meanwhile the memory of both daemons
 * stays bounded, because backpressure reaches the sender instead of piling up in fedgate.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allowProtocol } from '../../../membership/index.ts'
import { Federation, HOUR_MS } from '../federation.ts'
import { SidecarNode, tcpConnect, tcpServer } from './cluster.ts'

const GIB = 1024 * 1024 * 1024
const CHUNK = 64 * 1024
/** Each reader pauses this long after every READ_BURST bytes, and stalls once for STALL_MS. */
const READ_BURST = 4 * 1024 * 1024
const PAUSE_MS = 40
const STALL_AT = 256 * 1024 * 1024
const STALL_MS = 3_000
/**
 * How far a daemon's resident memory may rise above where it started. What fedgate may hold per
 * tunnel is bounded by yamux's stream window (16 MiB) each way plus socket buffers; the rest is
 * garbage the collector has not yet returned. Without backpressure a stalled reader would let
 * gigabytes pile up.
 */
const MAX_RSS_GROWTH_MIB = 160

/** Writes `bytes` random bytes as fast as the socket accepts them, and returns their SHA-256. */
async function send (socket: Socket, bytes: number): Promise<string> {
  const hash = createHash('sha256')
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    const chunk = randomBytes(Math.min(CHUNK, bytes - sent))
    hash.update(chunk)
    if (!socket.write(chunk)) await new Promise(resolve => socket.once('drain', resolve))
  }
  socket.end()
  return hash.digest('hex')
}

/** Reads until the peer's FIN, slowly: a pause after every burst and one long stall; returns the SHA-256 and the byte count. */
async function receiveSlowly (socket: Socket): Promise<{ digest: string, bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  let burst = 0
  let stalled = false
  return await new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.byteLength
      burst += chunk.byteLength
      const stall = !stalled && bytes >= STALL_AT
      if (burst < READ_BURST && !stall) return
      burst = 0
      stalled ||= stall
      socket.pause()
      setTimeout(() => { socket.resume() }, stall ? STALL_MS : PAUSE_MS)
    })
    socket.once('end', () => { resolve({ digest: hash.digest('hex'), bytes }) })
    socket.once('error', reject)
  })
}

async function rssMiB (pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid ?? 0}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024
}

describe('1 GiB each way through one tunnel, read slowly', { timeout: 900_000 }, () => {
  let dir: string
  let a: SidecarNode
  let b: SidecarNode
  let server: Server
  let atTarget: Promise<{ sent: string, received: { digest: string, bytes: number } }>

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-sidecar-gib-'))
    const fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS }, { id: 'val-b', roles: ['validator'], ttlMs: 48 * HOUR_MS }])
    await fed.writeRoster(fed.nextEpoch(r => allowProtocol(r, '/fedgate/tcp/bulk/1.0.0', ['validator'])))
    let resolveTarget: (value: { sent: string, received: { digest: string, bytes: number } }) => void = () => {}
    atTarget = new Promise(resolve => { resolveTarget = resolve })
    const target = await tcpServer(socket => {
      void Promise.all([send(socket, GIB), receiveSlowly(socket)]).then(([sent, received]) => { resolveTarget({ sent, received }) })
    })
    server = target.server
    a = await SidecarNode.start(fed, 'val-a', { expose: [{ name: 'bulk', target: `127.0.0.1:${target.port}` }] })
    b = await SidecarNode.start(fed, 'val-b', { dial: a.listen, forward: [{ name: 'bulk', listen: '127.0.0.1:0', member: 'val-a' }] })
    await b.peers(1)
  })

  after(async () => {
    await Promise.all([a, b].map(async n => n?.process.stop('SIGKILL')))
    server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('arrives byte-exact both ways while both daemons keep their memory bounded', async t => {
    const pids = [a.process.child.pid, b.process.child.pid]
    const baseline = await Promise.all(pids.map(rssMiB))
    const peak = [...baseline]
    const sampler = setInterval(() => {
      void Promise.all(pids.map(rssMiB)).then(now => { now.forEach((v, i) => { peak[i] = Math.max(peak[i] ?? 0, v) }) }, () => {})
    }, 100)
    const started = Date.now()
    const socket = await tcpConnect(await b.forwardPort('bulk'))
    // A daemon that dies mid-transfer fails the test at once, with what it printed.
    const died = Promise.race([a, b].map(async n => {
      const code = await n.process.exited
      throw new Error(`${n.id} exited (${String(code)}) during the transfer: ${n.process.stderr}`)
    }))
    const [[sent, received], target] = await Promise.race([Promise.all([Promise.all([send(socket, GIB), receiveSlowly(socket)]), atTarget]), died])
      .finally(() => { clearInterval(sampler) })
    assert.equal(received.bytes, GIB)
    assert.equal(target.received.bytes, GIB)
    assert.equal(target.received.digest, sent, 'client to target: same SHA-256')
    assert.equal(received.digest, target.sent, 'target to client: same SHA-256')
    const growth = peak.map((p, i) => p - (baseline[i] ?? 0))
    t.diagnostic(`${((2 * GIB) / 1e6 / ((Date.now() - started) / 1000)).toFixed(1)} MB/s both ways together; RSS exposer ${baseline[0]?.toFixed(0)} -> peak ${peak[0]?.toFixed(0)} MiB, forwarder ${baseline[1]?.toFixed(0)} -> peak ${peak[1]?.toFixed(0)} MiB`)
    for (const [i, side] of ['exposer', 'forwarder'].entries()) {
      assert.ok((growth[i] ?? Infinity) < MAX_RSS_GROWTH_MIB, `the ${side} grew by ${growth[i]?.toFixed(0)} MiB, more than ${MAX_RSS_GROWTH_MIB} MiB`)
    }
    const close = await b.auditEvent(e => e.event === 'tunnel-close' && e.serviceName === 'bulk')
    assert.equal(close.bytesSent, GIB)
    assert.equal(close.bytesReceived, GIB)
    assert.equal(close.reason, 'ok')
  })
})
