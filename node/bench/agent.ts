import { fork, type ChildProcess } from 'node:child_process'

/** An operation a benchmark agent runs on request: its argument and its result travel as JSON. */
export type AgentOps = Record<string, (arg: any) => Promise<unknown>>

type Request = { readonly id: number, readonly op: string, readonly arg: unknown }
type Reply = { readonly id: number, readonly value?: unknown, readonly error?: string }
type Ready = { readonly ready: unknown }

/**
 * A benchmark process of its own (a listener, a pool of dialers), so that its CPU time, memory and
 * event loop are its own. The parent calls its operations over the IPC channel; `serveAgent` is the
 * other end.
 */
export class Agent<Ops extends AgentOps, R = unknown> {
  /** What the agent reported once it was ready. */
  readonly ready: R
  readonly pid: number
  readonly #child: ChildProcess
  readonly #waiting = new Map<number, (reply: Reply) => void>()
  #stderr = ''
  #nextId = 0
  #exited: Promise<number | null>

  private constructor (child: ChildProcess, ready: R, stderr: string) {
    this.#child = child
    this.ready = ready
    this.pid = child.pid ?? 0
    this.#stderr = stderr
    child.stderr?.on('data', (chunk: string) => { this.#stderr = (this.#stderr + chunk).slice(-4096) })
    child.on('message', (message: Reply) => {
      this.#waiting.get(message.id)?.(message)
      this.#waiting.delete(message.id)
    })
    this.#exited = new Promise(resolve => {
      if (child.exitCode !== null) resolve(child.exitCode)
      child.once('exit', code => {
        for (const answer of this.#waiting.values()) answer({ id: -1, error: `the agent exited (${String(code)}): ${this.#stderr.trim()}` })
        this.#waiting.clear()
        resolve(code)
      })
    })
  }

  /**
   * Forks `module` (a file that calls `serveAgent`) with `args`, and resolves once it is ready.
   * `under` is a command that runs the agent by exec'ing the rest of its arguments, keeping the IPC
   * channel (e.g. `ip netns exec NS`, to run it inside a network namespace).
   */
  static async start<Ops extends AgentOps, R = unknown> (module: URL, args: readonly string[], execArgv: readonly string[] = [], under: readonly string[] = []): Promise<Agent<Ops, R>> {
    const [command, ...prefix] = under
    const exec = command === undefined ? { execArgv: [...execArgv] } : { execPath: command, execArgv: [...prefix, process.execPath, ...execArgv] }
    const child = fork(module, [...args], { ...exec, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4096) })
    const ready = await new Promise<R>((resolve, reject) => {
      child.once('message', (message: Ready) => { resolve(message.ready as R) })
      child.once('exit', code => { reject(new Error(`${module.pathname} exited (${String(code)}) before it was ready: ${stderr.trim()}`)) })
    })
    return new Agent<Ops, R>(child, ready, stderr)
  }

  /** Runs `op` in the agent and resolves with its result, or rejects with its error. */
  async call<K extends keyof Ops & string> (op: K, arg?: Parameters<Ops[K]>[0]): Promise<Awaited<ReturnType<Ops[K]>>> {
    const id = this.#nextId++
    const reply = await new Promise<Reply>(resolve => {
      this.#waiting.set(id, resolve)
      this.#child.send({ id, op, arg } satisfies Request)
    })
    if (reply.error !== undefined) throw new Error(`${op}: ${reply.error}`)
    return reply.value as Awaited<ReturnType<Ops[K]>>
  }

  /** Asks the agent to exit (its `stop` op), then kills it if it has not within `graceMs`. */
  async stop (graceMs = 10_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs)
    try {
      await Promise.race([this.call('stop').catch(() => {}), this.#exited])
      await this.#exited
    } finally {
      clearTimeout(timer)
    }
  }

  /** Kills the agent at once (after a failure). */
  kill (): void {
    this.#child.kill('SIGKILL')
  }
}

/**
 * The agent's side: reports `ready`, then runs each requested op and replies. The op `stop` runs
 * the given one (if any), replies, and exits; the agent also exits when its parent goes away.
 */
export function serveAgent (ops: AgentOps, ready: unknown): void {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('a benchmark agent runs as a forked child (node:child_process fork)')
  process.on('disconnect', () => process.exit(0))
  process.on('message', (request: Request) => {
    const op = ops[request.op]
    const done = (reply: Reply): void => {
      send(reply)
      if (request.op === 'stop') process.disconnect()
    }
    if (op === undefined && request.op !== 'stop') {
      done({ id: request.id, error: `unknown op ${JSON.stringify(request.op)}` })
      return
    }
    Promise.resolve(op?.(request.arg)).then(
      value => { done({ id: request.id, value }) },
      (err: unknown) => { done({ id: request.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }) }
    )
  })
  send({ ready })
}
