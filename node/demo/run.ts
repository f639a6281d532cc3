import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createDemoFederation, type DemoNodeFiles } from './federation.ts'
import { formatMs, silentReporter, textReporter } from './report.ts'
import { runScenario } from './scenario.ts'
import type { DemoSummary, RevocationSummary } from './summary.ts'

export interface DemoOptions {
  /** Keep the generated federation in this directory (created if missing; must be empty). */
  keep?: string
  /** Print nothing while running; the caller prints the returned summary. */
  quiet?: boolean
  /** Where the progress text goes. @default process.stdout */
  write?: (text: string) => void
}

/** Thrown when `--keep` names a directory that already holds files. */
export class KeepDirError extends Error {
  override readonly name = 'KeepDirError'
  readonly dir: string

  constructor (dir: string, detail: string) {
    super(`${dir}: ${detail}`)
    this.dir = dir
  }
}

/** Signals that end the demo early; the temp dir (it holds private keys) is removed first. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Runs the whole demo: generates a throwaway federation (in a temp dir, or in `keep`), runs it as
 * real fedgate nodes on 127.0.0.1, reports as it goes, and removes the temp dir at the end, or
 * on SIGINT, SIGTERM or SIGHUP before the process dies of that signal.
 */
export async function runDemo (opts: DemoOptions = {}): Promise<DemoSummary> {
  const write = opts.write ?? ((text: string) => { process.stdout.write(text) })
  const report = opts.quiet === true ? silentReporter : textReporter(write)
  const started = performance.now()
  const dir = opts.keep === undefined ? await mkdtemp(join(tmpdir(), 'fedgate-demo-')) : await keepDir(opts.keep)
  const removeOnSignal = (signal: NodeJS.Signals): void => {
    for (const s of STOP_SIGNALS) process.off(s, removeOnSignal)
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    // Die of the signal, as the shell that sent it expects (exit status 128 + signal number).
    process.kill(process.pid, signal)
  }
  if (opts.keep === undefined) for (const s of STOP_SIGNALS) process.on(s, removeOnSignal)
  try {
    if (opts.quiet !== true) write('fedgate demo: a throwaway federation of real fedgate nodes on 127.0.0.1\n')
    const setupStart = performance.now()
    const fed = await createDemoFederation(dir)
    const setupMs = Math.round((performance.now() - setupStart) * 10) / 10
    const result = await runScenario(fed, report, setupMs)
    const elapsedMs = Math.round(performance.now() - started)
    if (opts.quiet !== true) {
      write(`\nDone in ${formatMs(elapsedMs)}.\n`)
      const first = fed.members[0]
      if (opts.keep === undefined) write(keepHint())
      else if (first !== undefined) write(keptHint(dir, first, result.revocation, fed.expired.name))
    }
    return { ...result, kept: opts.keep === undefined ? null : dir, elapsedMs }
  } finally {
    if (opts.keep === undefined) {
      for (const s of STOP_SIGNALS) process.off(s, removeOnSignal)
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function keepDir (dir: string): Promise<string> {
  const absolute = resolve(dir)
  let entries: string[]
  try {
    entries = await readdir(absolute)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      await mkdir(absolute, { recursive: true })
      return absolute
    }
    if (code === 'ENOTDIR') throw new KeepDirError(absolute, 'is a file, not a directory; give --keep a new or empty directory')
    throw err
  }
  if (entries.length > 0) throw new KeepDirError(absolute, `is not empty (${entries.length} entries); give --keep a new or empty directory, the demo never overwrites files`)
  return absolute
}

function keepHint (): string {
  return 'The federation\'s files were removed. To keep them (keys, roster, credentials, node configs): npm start -- --keep DIR\n'
}

function keptHint (dir: string, node: DemoNodeFiles, revocation: RevocationSummary, expired: string): string {
  return [
    `The federation is kept in ${dir}:`,
    `  roster.json           the current roster (epoch ${revocation.epoch}: ${revocation.member} revoked), as the admins keep it`,
    '  admins/, members/     admin and member signing keys (mode 0600)',
    '  nodes/NAME.json       one node config per node; nodes/NAME/ holds its key, credential, roster copy and data',
    '  outsiders/            the forger, with its own self-made roster',
    `Start a node by hand (with the fedgate alias from README.md; ${revocation.member} is revoked and ${expired} expired, so fedgate refuses to start those two):`,
    `  fedgate node start --config ${node.config}`,
    `and, from another shell, look at ${node.name} through the admin endpoint its config names:`,
    `  fedgate node status --admin ${node.admin}`,
    ''
  ].join('\n')
}
