import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'

/*
 * Child processes for the registry-tier tests (*.registry.ts, *.range.ts): they install packages
 * with npm, which needs the npm registry the first time (later runs use npm's cache).
 */

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment for child processes, without the test runner's or an outer npm's settings. */
export function childEnv (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_TEST_CONTEXT' || key.toLowerCase().startsWith('npm_')) continue
    env[key] = value
  }
  return { ...env, ...extra }
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv
  /** Kill the child after this long (its exit code is then null). */
  readonly timeoutMs?: number
}

export async function run (command: string, args: readonly string[], cwd: string, opts: RunOptions = {}): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: opts.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }) })
  })
}

export function assertRan (result: Run, what: string): void {
  assert.equal(result.code, 0, `${what} exited ${String(result.code)}:\n${result.stdout}\n${result.stderr}`)
}

/** The registry npm is configured to use, and whether `npm ping` reaches it. */
export async function registryStatus (cwd: string): Promise<{ readonly registry: string, readonly reachable: boolean }> {
  const registry = (await run('npm', ['config', 'get', 'registry'], cwd)).stdout.trim()
  const ping = await run('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=15000'], cwd, { timeoutMs: 60_000 })
  return { registry, reachable: ping.code === 0 }
}

/**
 * Runs an npm command that fetches packages (`npm ci`, `npm install`): from npm's cache alone first,
 * and only when that does not suffice from the registry. An unreachable registry then fails the
 * step at once, saying so, rather than after minutes of npm's retries; it never passes.
 */
export async function npmFetch (args: readonly string[], cwd: string, what: string, timeoutMs: number): Promise<Run> {
  const offline = await run('npm', [...args, '--offline', '--no-audit', '--no-fund'], cwd, { timeoutMs })
  if (offline.code === 0) return offline
  return await npmOnline(args, cwd, what, timeoutMs, '--prefer-offline')
}

/** Runs an npm command that must ask the registry itself (say, for its newest release); fails at once, saying so, when it cannot be reached. */
export async function npmOnline (args: readonly string[], cwd: string, what: string, timeoutMs: number, freshness: '--prefer-online' | '--prefer-offline' = '--prefer-online'): Promise<Run> {
  const { registry, reachable } = await registryStatus(cwd)
  if (!reachable) {
    assert.fail(`${what} needs the npm registry ${registry}, which cannot be reached: this tier installs packages from it ` +
      '(the first time; later runs use npm\'s cache); connect to it, or run only the offline suite with npm test')
  }
  const online = await run('npm', [...args, freshness, '--no-audit', '--no-fund'], cwd, { timeoutMs })
  assertRan(online, `${what} (the npm registry ${registry} answers)`)
  return online
}
