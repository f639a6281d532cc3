import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer, connect, type AddressInfo } from 'node:net'
import { promisify } from 'node:util'

const run = promisify(execFile)
/** Where the Redis programs come from on Debian. */
export const REDIS_INSTALL = 'apt-get install -y redis-server redis-tools'
const START_TIMEOUT_MS = 10_000

/** Throws, naming the packages to install, when a Redis program is missing. */
export function requireRedis (): void {
  for (const program of ['redis-server', 'redis-cli', 'redis-benchmark']) {
    if (spawnSync(program, ['--version']).error !== undefined) throw new Error(`${program} is not installed; install it with: ${REDIS_INSTALL}`)
  }
}

/** A throwaway redis-server on 127.0.0.1 (no persistence). */
export interface RedisServer {
  readonly port: number
  stop (): Promise<void>
}

export async function startRedis (): Promise<RedisServer> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!await accepts(port)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return {
    port,
    async stop () {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** One `redis-benchmark` result line. */
export interface RedisResult {
  readonly test: string
  readonly rps: number
  readonly p50Ms: number
}

/** Runs redis-benchmark against `port` (requests per test, parallel clients = tunnels). */
export async function redisBenchmark (port: number, requests: number, clients: number): Promise<RedisResult[]> {
  const { stdout } = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-n', String(requests), '-c', String(clients), '-t', 'ping,set,get', '--csv'], { timeout: 300_000 })
  return stdout.trim().split('\n').slice(1).map(line => {
    const [test, rps, , , p50] = line.split(',').map(cell => cell.replaceAll('"', ''))
    return { test: test ?? '', rps: Number(rps), p50Ms: Number(p50) }
  })
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => { server.close(resolve) })
  return port
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
}
