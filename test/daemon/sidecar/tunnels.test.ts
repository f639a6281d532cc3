import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request, Agent, createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { allowProtocol, type Roster } from '../../../membership/index.ts'
import { Federation, fedgate, HOUR_MS } from '../federation.ts'
import { readBytes, readToEnd, requireProgram, SidecarNode, startRedis, tcpConnect, tcpServer } from './cluster.ts'

const run = promisify(execFile)
const SERVICES = ['echo', 'redis', 'rpc', 'proxied', 'upper'] as const

/**
 * Two daemons: val-a exposes an echo server, redis-server, an HTTP endpoint (HTTP mode), a server
 * that reads a PROXY v2 header, and a server that answers once its client half-closes; val-b dials
 * val-a and forwards each of them from a local port.
 */
describe('sidecar tunnels between two fedgate daemons', { timeout: 120_000 }, () => {
  let dir: string
  let fed: Federation
  let a: SidecarNode
  let b: SidecarNode
  const servers: Array<{ close (cb: () => void): void }> = []
  let redis: { stop (): Promise<void>, port: number } | undefined
  const proxyHeaders: Buffer[] = []
  const echoConnections: Socket[] = []

  before(async () => {
    requireProgram('redis-server', 'redis-server')
    dir = await mkdtemp(join(tmpdir(), 'fedgate-sidecar-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS }, { id: 'val-b', roles: ['validator'], ttlMs: 48 * HOUR_MS }])
    await fed.writeRoster(fed.nextEpoch(r => SERVICES.reduce<Roster>((roster, name) => allowProtocol(roster, `/fedgate/tcp/${name}/1.0.0`, ['validator']), r)))
    const echo = await tcpServer(socket => {
      echoConnections.push(socket)
      socket.pipe(socket)
    })
    // Answers with everything it read, upper-cased, once the client shut its write side.
    const upper = await tcpServer(socket => {
      const chunks: Buffer[] = []
      socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      socket.on('end', () => { socket.end(Buffer.from(Buffer.concat(chunks).toString('latin1').toUpperCase(), 'latin1')) })
    })
    const proxied = await tcpServer(socket => {
      void readBytes(socket, 16 + 12).then(header => {
        proxyHeaders.push(header)
        socket.pipe(socket)
      })
    })
    const rpc = await headerEchoServer()
    servers.push(echo.server, upper.server, proxied.server, rpc.server)
    redis = await startRedis()
    a = await SidecarNode.start(fed, 'val-a', {
      expose: [
        { name: 'echo', target: `127.0.0.1:${echo.port}` },
        { name: 'redis', target: `127.0.0.1:${redis.port}` },
        { name: 'rpc', target: `127.0.0.1:${rpc.port}`, mode: 'http' },
        { name: 'proxied', target: `127.0.0.1:${proxied.port}`, proxyProtocol: true },
        { name: 'upper', target: `127.0.0.1:${upper.port}` }
      ]
    })
    b = await SidecarNode.start(fed, 'val-b', {
      dial: a.listen,
      forward: SERVICES.map(name => ({ name, listen: '127.0.0.1:0', member: 'val-a' }))
    })
    await b.peers(1)
  })

  after(async () => {
    await Promise.all([a, b].map(async n => n?.process.stop('SIGKILL')))
    await redis?.stop()
    for (const server of servers) server.close(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('carries redis: redis-cli and redis-benchmark talk to redis-server through the tunnel', async () => {
    requireProgram('redis-cli', 'redis-tools')
    requireProgram('redis-benchmark', 'redis-tools')
    const port = String(await b.forwardPort('redis'))
    assert.equal((await run('redis-cli', ['-p', port, 'SET', 'fedgate', 'tunnelled'])).stdout.trim(), 'OK')
    assert.equal((await run('redis-cli', ['-p', port, 'GET', 'fedgate'])).stdout.trim(), 'tunnelled')
    const bench = await run('redis-benchmark', ['-p', port, '-n', '2000', '-c', '20', '-t', 'set,get', '--csv'])
    const rows = bench.stdout.trim().split('\n').slice(1).map(l => l.split(',').map(c => c.replaceAll('"', '')))
    assert.deepEqual(rows.map(r => r[0]), ['SET', 'GET'])
    for (const row of rows) assert.ok(Number(row[1]) > 0, `redis-benchmark ${row[0]} completed requests`)
    // redis-server counts the keys redis-benchmark wrote through the tunnel.
    assert.match((await run('redis-cli', ['-p', String(redis?.port), 'DBSIZE'])).stdout, /^[1-9]\d*$/m)
    const close = await b.auditEvent(e => e.event === 'tunnel-close' && e.serviceName === 'redis')
    assert.equal(close.memberId, 'val-a')
    assert.equal(close.side, 'forward')
    assert.equal(close.reason, 'ok')
    assert.ok((close.bytesSent ?? 0) > 0 && (close.bytesReceived ?? 0) > 0)
    const exposed = await a.auditEvent(e => e.event === 'tunnel-close' && e.serviceName === 'redis')
    assert.equal(exposed.memberId, 'val-b')
    assert.equal(exposed.side, 'expose')
  })

  it('passes half-close through: the client shuts its write side and still reads the whole reply', async () => {
    const socket = await tcpConnect(await b.forwardPort('upper'))
    const sent = Buffer.from(randomBytes(300_000).toString('base64'), 'latin1')
    const reply = readToEnd(socket)
    socket.end(sent)
    const { data, end } = await reply
    assert.equal(end, 'end', 'the reply ends with a FIN, not a reset')
    assert.ok(data.equals(Buffer.from(sent.toString('latin1').toUpperCase(), 'latin1')), 'the reply is every byte, upper-cased')
  })

  it('carries 100 concurrent tunnels byte-exact, and /status and /metrics count them', async () => {
    const port = await b.forwardPort('echo')
    const before = echoConnections.length
    const sockets = await Promise.all(Array.from({ length: 100 }, async () => await tcpConnect(port)))
    const payloads = sockets.map(() => randomBytes(64 * 1024))
    const echoed = await Promise.all(sockets.map(async (socket, i) => {
      const payload = payloads[i] ?? Buffer.alloc(0)
      const answer = readBytes(socket, payload.byteLength)
      socket.write(payload)
      return await answer
    }))
    echoed.forEach((answer, i) => { assert.ok(answer.equals(payloads[i] ?? Buffer.alloc(0)), `tunnel ${i} echoed its own bytes`) })
    assert.equal(echoConnections.length - before, 100, 'each tunnel is its own TCP connection to the target')
    const status = await b.status()
    const open = status.tunnels.filter(t => t.service === 'echo' && t.side === 'forward')
    assert.equal(open.length, 100)
    assert.ok(open.every(t => t.memberId === 'val-a' && t.bytesSent === 64 * 1024 && t.bytesReceived === 64 * 1024))
    assert.match(await b.metrics(), /^fedgate_tunnels_open\{service="echo",side="forward"\} 100$/m)
    assert.match(await a.metrics(), /^fedgate_tunnels_open\{service="echo",side="expose"\} 100$/m)
    const human = await fedgate('node', 'status', '--admin', b.admin)
    assert.match(human.stdout, /^tunnels +100$/m)
    assert.equal(human.stdout.split('\n').filter(l => /^\d+ +echo +forward +val-a +127\.0\.0\.1:\d+ /.test(l)).length, 100)
    await Promise.all(sockets.map(async socket => {
      const ended = readToEnd(socket)
      socket.end()
      assert.equal((await ended).end, 'end')
    }))
  })

  it('HTTP mode: every request of a keep-alive connection reaches the target with Fedgate-Member and Fedgate-Roles, and spoofed ones are gone', async () => {
    const port = await b.forwardPort('rpc')
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const spoofs: Array<[string, string]> = [['Fedgate-Member', 'root'], ['fedgate-roles', 'validator,admin'], ['FEDGATE-MEMBER', 'val-a'], ['Fedgate-Peer', '12D3KooWfake']]
    const answers: HeaderEcho[] = []
    for (const [i, [name, value]] of spoofs.entries()) {
      answers.push(await httpJson(port, agent, `/rpc/${i}`, { [name]: value, 'x-client': 'kept' }, `{"id":${i}}`))
      if (i === 0) assert.equal((await b.status()).tunnels.filter(t => t.service === 'rpc').length, 1)
    }
    agent.destroy()
    const peerId = fed.member('val-b').nodeKey.peerId
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.headers['fedgate-member'], 'val-b', `request ${i}`)
      assert.equal(answer.headers['fedgate-roles'], 'validator', `request ${i}`)
      assert.equal(answer.headers['fedgate-peer'], peerId, `request ${i}`)
      const named = answer.rawHeaders.filter((_, k) => k % 2 === 0).map(h => h.toLowerCase()).filter(h => h.startsWith('fedgate-'))
      assert.deepEqual(named.sort(), ['fedgate-member', 'fedgate-peer', 'fedgate-roles'], `request ${i} carries each fedgate header once`)
      assert.equal(answer.headers['x-client'], 'kept')
      assert.equal(answer.body, `{"id":${i}}`)
    }
    assert.equal(new Set(answers.map(x => x.remotePort)).size, 1, 'the requests shared one upstream connection, as they shared one tunnel')
  })

  it('HTTP mode passes a WebSocket-style upgrade through with the caller\'s headers, then the bytes both ways', async () => {
    const port = await b.forwardPort('rpc')
    const { answer, socket } = await new Promise<{ answer: IncomingMessage, socket: Socket }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/ws', headers: { connection: 'Upgrade', upgrade: 'echo', 'fedgate-member': 'root' } })
      req.on('upgrade', (res: IncomingMessage, upgraded: Socket) => { resolve({ answer: res, socket: upgraded }) })
      req.on('response', res => { reject(new Error(`no upgrade: HTTP ${String(res.statusCode)}`)) })
      req.on('error', reject)
      req.end()
    })
    assert.equal(answer.statusCode, 101)
    assert.equal(answer.headers['x-fedgate-member'], 'val-b', 'the target saw the caller, not the spoofed member')
    const echoed = readBytes(socket, 6)
    socket.write('frames')
    assert.equal((await echoed).toString(), 'frames')
    socket.destroy()
  })

  it('PROXY v2: the target first reads the address of the peer node that opened the tunnel', async () => {
    const socket = await tcpConnect(await b.forwardPort('proxied'))
    const echoed = readBytes(socket, 5)
    socket.write('hello')
    assert.equal((await echoed).toString(), 'hello', 'after the header, the bytes are the client\'s')
    socket.destroy()
    const header = proxyHeaders.at(-1)
    assert.ok(header !== undefined)
    assert.ok(header.subarray(0, 12).equals(Buffer.from('0d0a0d0a000d0a515549540a', 'hex')), 'the v2 signature')
    assert.equal(header[12], 0x21, 'version 2, PROXY command')
    assert.equal(header[13], 0x11, 'TCP over IPv4')
    assert.equal(header.readUInt16BE(14), 12)
    const peer = (await a.status()).peers.find(p => p.memberId === 'val-b')
    const [, ip, port] = /^\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(peer?.remoteAddr ?? '') ?? []
    assert.equal([...header.subarray(16, 20)].join('.'), ip)
    assert.equal(header.readUInt16BE(24), Number(port), 'the source port is val-b\'s end of the libp2p connection')
    assert.equal(header.readUInt16BE(26), Number(/\/tcp\/(\d+)/.exec(a.listen[0] ?? '')?.[1]), 'the destination is val-a\'s listen address')
  })
})

type HeaderEcho = { headers: IncomingHttpHeaders, rawHeaders: string[], body: string, remotePort: number }

/** One POST through the forward on a keep-alive agent; the target's JSON answer. */
async function httpJson (port: number, agent: Agent, path: string, headers: Record<string, string>, body: string): Promise<HeaderEcho> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${String(res.statusCode)}: ${Buffer.concat(chunks).toString()}`))
        else resolve(JSON.parse(Buffer.concat(chunks).toString()) as HeaderEcho)
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** An HTTP server that answers each request with the headers it received and the request body. */
async function headerEchoServer (): Promise<{ server: Server, port: number }> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    req.on('end', () => {
      const body = JSON.stringify({ headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString(), remotePort: req.socket.remotePort })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(body)
    })
  })
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const members = req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'fedgate-member').length
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\nX-Fedgate-Member: ${members === 1 ? String(req.headers['fedgate-member']) : `${members} headers`}\r\n\r\n`)
    socket.pipe(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return { server, port: (server.address() as AddressInfo).port }
}
