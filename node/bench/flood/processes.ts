import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Host, NetnsLab } from '../netns.ts'
import type { FloodCounts, FloodReport } from './flooder.ts'
import type { ProbeReport } from './prober.ts'

const FLOODER = fileURLToPath(new URL('../../../scripts/bench/flood/flooder.ts', import.meta.url))
const PROBER = fileURLToPath(new URL('../../../scripts/bench/flood/prober.ts', import.meta.url))

export interface FloodInit {
  readonly target: string
  readonly identities: number
  readonly durationMs: number
  readonly maxAttempts?: number
}

/** A flooder process running in a lab host, and what it reported last. */
export class FloodProcess {
  readonly child: ChildProcess
  last: FloodCounts | undefined
  private stderr = ''
  private done: FloodCounts | undefined
  private readonly waiters: Array<() => void> = []
  private readonly exited: Promise<void>

  private constructor (child: ChildProcess) {
    this.child = child
    let buffer = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const report = JSON.parse(buffer.slice(0, nl)) as FloodReport
        buffer = buffer.slice(nl + 1)
        if (report.event !== 'started') this.last = report
        if (report.event === 'done') this.done = report
        this.notify()
      }
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk })
    this.exited = new Promise(resolve => { child.once('exit', () => { this.notify(); resolve() }) })
  }

  /** Starts the flood and resolves once its first attempts are under way. */
  static async start (lab: NetnsLab, host: Host, init: FloodInit): Promise<FloodProcess> {
    const child = lab.spawn(host, process.execPath, [FLOODER, '--target', init.target, '--identities', String(init.identities),
      '--duration-ms', String(init.durationMs), ...(init.maxAttempts === undefined ? [] : ['--max-attempts', String(init.maxAttempts)])], { stdio: ['ignore', 'pipe', 'pipe'] })
    const flood = new FloodProcess(child)
    await flood.until(c => c.attempts > 0)
    return flood
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Resolves with the latest counts once `check` holds for them; rejects if the flooder ends first. */
  async until (check: (counts: FloodCounts) => boolean): Promise<FloodCounts> {
    for (;;) {
      if (this.last !== undefined && check(this.last)) return this.last
      if (!this.running) throw new Error(`the flooder ended (${String(this.child.exitCode)}): ${this.stderr}`)
      await new Promise<void>(resolve => this.waiters.push(resolve))
    }
  }

  /** Ends the flood (SIGTERM) and resolves with its totals. */
  async stop (): Promise<FloodCounts> {
    if (this.running) this.child.kill('SIGTERM')
    await this.exited
    if (this.done === undefined) throw new Error(`the flooder reported no totals (exit ${String(this.child.exitCode)}): ${this.stderr}`)
    return this.done
  }

  private notify (): void {
    for (const resolve of this.waiters.splice(0)) resolve()
  }
}

export interface ProbeInit {
  readonly files: { readonly key: string, readonly credential: string, readonly roster: string, readonly dataDir: string }
  readonly target: string
  readonly samples: number
}

/** Runs a prober in a lab host until it has measured `samples` admissions. */
export async function probeAdmission (lab: NetnsLab, host: Host, init: ProbeInit): Promise<ProbeReport> {
  const { key, credential, roster, dataDir } = init.files
  const child = lab.spawn(host, process.execPath, [PROBER, '--key', key, '--credential', credential, '--roster', roster, '--data-dir', dataDir,
    '--target', init.target, '--samples', String(init.samples)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>(resolve => { child.once('exit', resolve) })
  if (code !== 0) throw new Error(`the prober in ${host.name} exited (${String(code)}): ${stderr}`)
  return JSON.parse(stdout) as ProbeReport
}
