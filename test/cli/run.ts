import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'

/** The repository root: the CLI runs from here, as `node scripts/fedgate.ts`. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url))

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `fedgate ARGS` as a real process (the bin's source under this Node) and collects its output. */
export async function fedgate (...args: string[]): Promise<CliRun> {
  return await runProcess(process.execPath, ['scripts/fedgate.ts', ...args])
}

/** Runs `fedgate ARGS` with `env` added to this process's environment. */
export async function fedgateWithEnv (env: Readonly<Record<string, string>>, ...args: string[]): Promise<CliRun> {
  return await runProcess(process.execPath, ['scripts/fedgate.ts', ...args], env)
}

export async function runProcess (command: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

/**
 * Runs `fedgate ARGS` with its stdout pipe already closed by the reader, as `fedgate … | head -0`
 * or `| grep -q` leave it: every write to stdout fails with EPIPE. Collects stderr.
 */
export async function fedgateClosedStdout (...args: string[]): Promise<CliRun> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/fedgate.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    // Closing the read end before the process has loaded makes its first write fail, every time.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout: '', stderr }))
  })
}

/** A line of a JavaScript stack trace. */
export const STACK_TRACE_LINE = /^\s+at /m

/** Parses the one JSON document a `--json` command prints. */
export function json<T = Record<string, unknown>> (run: CliRun): T {
  return JSON.parse(run.stdout) as T
}

/** Asserts success: exit 0 and nothing on stderr. */
export function assertOk (run: CliRun): void {
  assert.equal(run.code, 0, `expected exit 0, got ${String(run.code)}; stderr: ${run.stderr}`)
  assert.equal(run.stderr, '')
}

/**
 * Asserts a failure reported the operator's way: the exit code, and exactly one `error:` line on
 * stderr without a stack trace. Returns that line for further checks.
 */
export function assertFails (run: CliRun, code: 1 | 2): string {
  assert.equal(run.code, code, `expected exit ${code}, got ${String(run.code)}; stderr: ${run.stderr}`)
  assert.doesNotMatch(run.stderr, STACK_TRACE_LINE, `stack trace on stderr: ${run.stderr}`)
  const lines = run.stderr.split('\n').filter(l => l !== '')
  assert.equal(lines.length, 1, `expected one stderr line, got: ${run.stderr}`)
  const line = lines[0] ?? ''
  assert.match(line, /^error: /)
  return line
}
