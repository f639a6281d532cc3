import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createFederationBuilder } from '../../builder/index.ts'
import { BENCH_FEDERATION } from '../federation.ts'
import { credentialResult, renderMembership, rosterResult, type RosterResult } from './report.ts'
import { distinctPublicKeys, largeRoster } from './roster-fixture.ts'
import { credentialWorker, rosterWorker, type CredentialMeasurement, type RosterMeasurement } from './workers.ts'

export const USAGE = 'node scripts/bench-membership.ts [--quick] [--json] [--reps N] [--profile DIR]'

const FULL = { sizes: [1_000, 10_000, 100_000], reps: 5, credentials: 1_000, nodes: 200, cachedMinMs: 300 }
const QUICK = { sizes: [200], reps: 1, credentials: 40, nodes: 8, cachedMinMs: 20 }

/** Runs this same entry point as a child with `--worker …` and returns what it prints (JSON). */
async function runChild (args: readonly string[], profileDir: string | undefined): Promise<unknown> {
  const entry = process.argv[1]
  if (entry === undefined) throw new Error('cannot tell which script to run the benchmark workers from')
  const execArgs = ['--expose-gc', ...(profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), entry, ...args]
  const child = spawn(process.execPath, execArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { out += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  if (code !== 0) throw new Error(`benchmark worker ${args.join(' ')} exited with ${String(code)}`)
  return JSON.parse(out)
}

function integer (value: string | undefined, option: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${option} must be a positive integer`)
  return n
}

/**
 * The membership benchmark (scripts/bench-membership.ts): roster load and verify at several sizes,
 * and credential verification cold (noble, native OpenSSL) and cached. Each measurement runs in a
 * child process of its own (the same script with --worker), so its peak RSS is its own.
 */
export async function membershipBenchmark (args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      'quick': { type: 'boolean', default: false },
      'json': { type: 'boolean', default: false },
      'reps': { type: 'string' },
      'profile': { type: 'string' },
      'worker': { type: 'string' },
      'file': { type: 'string' },
      'pool': { type: 'string' },
      'nodes': { type: 'string' },
      'cached-min-ms': { type: 'string' }
    }
  })
  const config = values.quick ? QUICK : FULL
  const reps = values.reps === undefined ? config.reps : integer(values.reps, 'reps')

  if (values.worker === 'roster') {
    if (values.file === undefined) throw new Error('--worker roster needs --file')
    process.stdout.write(JSON.stringify(await rosterWorker(values.file, reps)))
    return
  }
  if (values.worker === 'credentials') {
    const measured = await credentialWorker(reps, integer(values.pool, 'pool'), integer(values.nodes, 'nodes'), integer(values['cached-min-ms'], 'cached-min-ms'))
    process.stdout.write(JSON.stringify(measured))
    return
  }
  if (values.worker !== undefined) throw new Error(`unknown --worker ${values.worker}`)

  const dir = await mkdtemp(join(tmpdir(), 'fedgate-bench-'))
  try {
    const fed = createFederationBuilder({ federation: BENCH_FEDERATION })
    const keys = distinctPublicKeys(Math.max(...config.sizes))
    const rosters: RosterResult[] = []
    for (const members of config.sizes) {
      const file = join(dir, `roster-${members}.json`)
      await writeFile(file, largeRoster(fed, keys.slice(0, members)).encode())
      rosters.push(rosterResult(members, await runChild(['--worker', 'roster', '--file', file, '--reps', String(reps)], values.profile) as RosterMeasurement))
      await rm(file)
    }
    const creds = credentialResult(await runChild([
      '--worker', 'credentials', '--reps', String(reps), '--pool', String(config.credentials),
      '--nodes', String(config.nodes), '--cached-min-ms', String(config.cachedMinMs)
    ], values.profile) as CredentialMeasurement)
    if (values.json) {
      process.stdout.write(JSON.stringify({ node: process.version, platform: `${process.platform}/${process.arch}`, reps, roster: rosters, credentials: creds }, null, 2) + '\n')
    } else {
      process.stdout.write(renderMembership(rosters, creds, reps) + '\n')
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
