import { mkdir } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { withTempDir } from '../temp-dir.ts'
import { renderScale, targets } from './report.ts'
import { runScale, type RunConfig, type ScaleResult } from './run.ts'
import type { ScaleVariant } from './setup.ts'

export const USAGE = 'node scripts/bench-scale.ts [--quick] [--json] [--n 100,500,1000,2000,5000] [--variants fedgate,bare] [--processes P] [--concurrency C] [--epochs E] [--profile DIR]'

/** Temp directories start with this, so a test can check that none are left behind. */
export const TEMP_PREFIX = 'fedgate-bench-scale-'

const FULL = { ns: [100, 500, 1000, 2000, 5000], processes: 2, concurrency: 16, epochs: 3 }
const QUICK = { ns: [40], processes: 2, concurrency: 8, epochs: 2 }
const VARIANTS: readonly ScaleVariant[] = ['fedgate', 'bare']

function positive (value: string | undefined, fallback: number, option: string, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`--${option} must be a whole number from 1 to ${max}, not ${JSON.stringify(value)}`)
  return n
}

function parse (args: readonly string[]): { ns: number[], variants: ScaleVariant[], config: RunConfig, json: boolean } {
  const { values } = parseArgs({
    args: [...args],
    options: {
      'quick': { type: 'boolean', default: false },
      'json': { type: 'boolean', default: false },
      'n': { type: 'string' },
      'variants': { type: 'string' },
      'processes': { type: 'string' },
      'concurrency': { type: 'string' },
      'epochs': { type: 'string' },
      'profile': { type: 'string' }
    }
  })
  const base = values.quick ? QUICK : FULL
  const ns = values.n === undefined ? base.ns : values.n.split(',').map(v => positive(v, 0, 'n', 20_000))
  const variants = values.variants === undefined
    ? [...VARIANTS]
    : values.variants.split(',').map(v => {
      if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`--variants: unknown variant ${JSON.stringify(v)} (known: ${VARIANTS.join(', ')})`)
      return v as ScaleVariant
    })
  return {
    ns,
    variants,
    json: values.json,
    config: {
      processes: positive(values.processes, base.processes, 'processes', 16),
      concurrency: positive(values.concurrency, base.concurrency, 'concurrency', 256),
      // Each epoch revokes one of the run's spare members.
      epochs: positive(values.epochs, base.epochs, 'epochs', 8),
      epochTimeoutMs: 120_000,
      profileDir: values.profile === undefined ? undefined : resolve(values.profile)
    }
  }
}

/**
 * The scale benchmark (scripts/bench-scale.ts): one listener holding N connections, fedgate against
 * bare libp2p with the same Noise crypto in one run: memory, connection rate and CPU across the
 * ramp, then (fedgate) roster epochs spreading to every peer. Everything runs on 127.0.0.1 in a
 * temp directory that is removed on exit, SIGINT or SIGTERM.
 */
export async function scaleBenchmark (args: readonly string[]): Promise<void> {
  const { ns, variants, config, json } = parse(args)
  const progress = (line: string): void => { if (!json) process.stderr.write(`${line}\n`) }
  await withTempDir(TEMP_PREFIX, async dir => {
    if (config.profileDir !== undefined) await mkdir(config.profileDir, { recursive: true })
    const results: ScaleResult[] = []
    const now = Date.now()
    for (const n of ns) {
      // Both variants at one N back to back, so they see the same machine.
      for (const variant of variants) {
        progress(`${variant}, N=${n}`)
        const runDir = join(dir, `${variant}-${n}`)
        results.push(await runScale({ variant, seed: `scale ${n}`, now, connections: n, dir: runDir }, config, progress))
      }
    }
    if (json) {
      process.stdout.write(JSON.stringify({ node: process.version, cpus: availableParallelism(), config, results, targets: targets(results) }, null, 2) + '\n')
    } else {
      process.stdout.write(renderScale(results, config) + '\n')
    }
  })
}
