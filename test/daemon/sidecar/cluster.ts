import { spawn, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import type { StatusDocument } from '../../../node/daemon/index.ts'
import { eventually, type Federation, FedgateProcess } from '../federation.ts'

/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m

/** One audit log line, the fields the sidecar tests read. */
export interface AuditEvent {
  readonly event: string
  readonly reason?: string
  readonly memberId?: string
  readonly serviceName?: string
  readonly side?: string
  readonly tunnel?: number
  readonly bytesSent?: number
  readonly bytesReceived?: number
  readonly detail?: string
}

/** A running `fedgate node start` of one member, with its admin endpoint and audit log. */
export class SidecarNode {
  readonly id: string
  readonly process: FedgateProcess
  readonly admin: string
  readonly listen: readonly string[]
  readonly auditLog: string

  constructor (id: string, process: FedgateProcess, admin: string, listen: readonly string[], auditLog: string) {
    this.id = id
    this.process = process
    this.admin = admin
    this.listen = listen
    this.auditLog = auditLog
  }

  /** Starts the member's node with its config plus `extra` (expose, forward, dial, …). */
  static async start (fed: Federation, id: string, extra: Record<string, unknown> = {}): Promise<SidecarNode> {
    const process = new FedgateProcess(['node', 'start', '--config', await fed.writeConfig(id, fed.configOf(id, extra))])
    await process.waitForStderr(STARTED)
    const dataDir = join(fed.dir, `data-${id}`)
    return new SidecarNode(id, process,
      (await readFile(join(dataDir, 'admin.addr'), 'utf8')).trim(),
      (await readFile(join(dataDir, 'listen.addrs'), 'utf8')).trim().split('\n'),
      join(fed.dir, `${id}.audit.log`))
  }

  async status (): Promise<StatusDocument> {
    return await (await fetch(`http://${this.admin}/status`)).json() as StatusDocument
  }

  async metrics (): Promise<string> {
    return await (await fetch(`http://${this.admin}/metrics`)).text()
  }

  /** The bound port of the forward of `name` (the config asks for port 0). */
  async forwardPort (name: string, index = 0): Promise<number> {
    const forward = (await this.status()).forward.filter(f => f.name === name)[index]
    if (forward === undefined) throw new Error(`${this.id} has no forward ${name}`)
    return Number(forward.listen.slice(forward.listen.lastIndexOf(':') + 1))
  }

  /** The audit log's events so far (a line still being written is left out). */
  async audit (): Promise<AuditEvent[]> {
    const lines = (await readFile(this.auditLog, 'utf8')).split('\n')
    return lines.slice(0, -1).map(l => JSON.parse(l) as AuditEvent)
  }

  /** Waits until the audit log holds an event that `match` accepts, and returns it. */
  async auditEvent (match: (e: AuditEvent) => boolean): Promise<AuditEvent> {
    return await eventually(async () => (await this.audit()).find(match))
  }

  /** Waits until `/status` lists as many peers as `count`. */
  async peers (count: number): Promise<void> {
    await eventually(async () => (await this.status()).peers.length >= count ? true : undefined)
  }
}

/** Fails, naming the Debian packages to install, when a system program a test needs is missing. */
export function requireProgram (program: string, packages: string): void {
  if (spawnSync(program, ['--version']).error !== undefined) {
    throw new Error(`${program} is not installed: this test runs the real program; install it with: apt-get install -y ${packages}`)
  }
}

/** A TCP server on 127.0.0.1 port 0; `handler` serves each connection (half-open allowed). */
export async function tcpServer (handler: (socket: Socket) => void): Promise<{ server: Server, port: number }> {
  const server = createServer({ allowHalfOpen: true }, socket => {
    socket.on('error', () => {})
    handler(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return { server, port: (server.address() as AddressInfo).port }
}

/** Connects to 127.0.0.1:`port` (half-open allowed). */
export async function tcpConnect (port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    socket.once('connect', () => { resolve(socket) })
    socket.once('error', reject)
  })
}

/** Everything a socket delivers until its peer's FIN, and how it ended: `end` (FIN) or the error code. */
export async function readToEnd (socket: Socket): Promise<{ data: Buffer, end: string }> {
  return await new Promise(resolve => {
    const chunks: Buffer[] = []
    let error: string | undefined
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk) })
    socket.once('end', () => { resolve({ data: Buffer.concat(chunks), end: 'end' }) })
    socket.once('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
    socket.once('close', () => { resolve({ data: Buffer.concat(chunks), end: error ?? 'closed' }) })
  })
}

/** Reads exactly `bytes` bytes from a socket. */
export async function readBytes (socket: Socket, bytes: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.byteLength
      if (size < bytes) return
      socket.off('data', onData)
      const all = Buffer.concat(chunks)
      if (all.byteLength > bytes) socket.unshift(all.subarray(bytes))
      resolve(all.subarray(0, bytes))
    }
    socket.on('data', onData)
    socket.once('close', () => { reject(new Error(`the connection closed after ${size} of ${bytes} bytes`)) })
  })
}

/** A port nothing listens on (bound, then released). */
export async function unusedPort (): Promise<number> {
  const { server, port } = await tcpServer(() => {})
  await new Promise(resolve => { server.close(resolve) })
  return port
}

/** A throwaway redis-server on a free port of 127.0.0.1, without persistence. */
export async function startRedis (): Promise<{ port: number, stop (): Promise<void> }> {
  const port = await unusedPort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) on port ${port}`)
    return await tcpConnect(port).then(socket => { socket.destroy(); return true }, () => undefined)
  })
  return {
    port,
    async stop () {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}
