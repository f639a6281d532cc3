import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HealthDocument, StatusDocument } from '../daemon/index.ts'
import type { Host, NetnsLab } from './netns.ts'

/** The fedgate CLI, run as an operator runs it. */
export const FEDGATE_SCRIPT = fileURLToPath(new URL('../../scripts/fedgate.ts', import.meta.url))
/** A daemon that has not printed its startup summary by then failed to start. */
const START_TIMEOUT_MS = 30_000
/** After SIGTERM, a daemon that has not exited by then is killed. */
const STOP_TIMEOUT_MS = 10_000
/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m

/** A `fedgate node start` process inside a lab host, and its admin endpoint. */
export class DaemonProcess {
  readonly name: string
  readonly host: Host
  readonly child: ChildProcess
  readonly admin: string
  readonly listen: readonly string[]
  private readonly output: { stderr: string }
  private readonly exited: Promise<void>

  private constructor (name: string, host: Host, child: ChildProcess, admin: string, listen: string[], output: { stderr: string }, exited: Promise<void>) {
    this.name = name
    this.host = host
    this.child = child
    this.admin = admin
    this.listen = listen
    this.output = output
    this.exited = exited
  }

  /** Starts `fedgate node start --config FILE` in `host` and waits for its startup summary. */
  static async start (lab: NetnsLab, host: Host, name: string, config: { file: string, dataDir: string }): Promise<DaemonProcess> {
    const child = lab.spawn(host, process.execPath, [FEDGATE_SCRIPT, 'node', 'start', '--config', config.file], { stdio: ['ignore', 'ignore', 'pipe'] })
    const output = { stderr: '' }
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output.stderr += chunk })
    const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { fail(new Error(`${name} in ${host.name} did not start within ${START_TIMEOUT_MS} ms: ${output.stderr}`)) }, START_TIMEOUT_MS)
      const onData = (): void => { if (STARTED.test(output.stderr)) done() }
      const onExit = (code: number | null): void => { fail(new Error(`${name} in ${host.name} exited (${String(code)}) before it started: ${output.stderr}`)) }
      const done = (): void => { clearTimeout(timer); child.off('exit', onExit); child.stderr?.off('data', onData); resolve() }
      const fail = (err: Error): void => { clearTimeout(timer); child.off('exit', onExit); child.stderr?.off('data', onData); child.kill('SIGKILL'); reject(err) }
      child.stderr?.on('data', onData)
      child.once('exit', onExit)
    })
    const admin = (await readFile(join(config.dataDir, 'admin.addr'), 'utf8')).trim()
    const listen = (await readFile(join(config.dataDir, 'listen.addrs'), 'utf8')).trim().split('\n')
    return new DaemonProcess(name, host, child, admin, listen, output, exited)
  }

  get pid (): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`)
    return this.child.pid
  }

  get stderr (): string {
    return this.output.stderr
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  async status (): Promise<StatusDocument> {
    return await (await this.get('/status')).json() as StatusDocument
  }

  async metrics (): Promise<string> {
    return await (await this.get('/metrics')).text()
  }

  async health (): Promise<{ status: number, doc: HealthDocument }> {
    const res = await this.get('/healthz')
    return { status: res.status, doc: await res.json() as HealthDocument }
  }

  /** The members this node holds admitted connections to, sorted. */
  async peers (): Promise<string[]> {
    return (await this.status()).peers.map(p => p.memberId).sort()
  }

  /** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
  async stop (): Promise<void> {
    if (!this.running) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  private async get (path: string): Promise<Response> {
    return await fetch(`http://${this.admin}${path}`, { signal: AbortSignal.timeout(10_000) })
  }
}

/** The sum of a Prometheus counter's samples whose labels include all of `labels`. */
export function counterSum (metrics: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0
  for (const m of metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const have = m[1] ?? ''
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(m[2])
  }
  return sum
}
