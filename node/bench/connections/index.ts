import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { withTempDir } from '../temp-dir.ts'
import { ratios, renderConnections } from './report.ts'
import { revocation, type RevocationConfig } from './revocation.ts'
import { throughput, type ThroughputConfig } from './throughput.ts'
import { VARIANTS, type VariantName } from './variants.ts'

export const USAGE = 'node scripts/bench-connections.ts [--quick] [--json] [--rounds N] [--seconds S] [--concurrency C] [--variants fedgate,bare,...] [--reps N] [--libp2p-metrics] [--profile DIR]'

const FULL = { rounds: 5, seconds: 4, warmupSeconds: 1.5, concurrency: 8, dialerPool: 32, reps: 10, victims: 50, keepers: 3 }
const QUICK = { rounds: 1, seconds: 1, warmupSeconds: 0.3, concurrency: 4, dialerPool: 4, reps: 2, victims: 8, keepers: 2 }

/** Temp directories start with this, so a test can check that none are left behind. */
export const TEMP_PREFIX = 'fedgate-bench-conn-'

type Config = ThroughputConfig & Omit<RevocationConfig, 'libp2pMetrics'>

function number (value: string | undefined, fallback: number, option: string, min: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < min) throw new Error(`--${option} must be a number >= ${min}`)
  return n
}

function parseConfig (args: readonly string[]): { config: Config, json: boolean } {
  const { values } = parseArgs({
    args: [...args],
    options: {
      'quick': { type: 'boolean', default: false },
      'json': { type: 'boolean', default: false },
      'rounds': { type: 'string' },
      'seconds': { type: 'string' },
      'concurrency': { type: 'string' },
      'variants': { type: 'string' },
      'reps': { type: 'string' },
      'libp2p-metrics': { type: 'boolean', default: false },
      'profile': { type: 'string' }
    }
  })
  const base = values.quick ? QUICK : FULL
  const names = values.variants === undefined ? [...VARIANTS] : values.variants.split(',').filter(v => v !== '')
  const variants = names.map(v => {
    if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`--variants: unknown variant ${JSON.stringify(v)} (known: ${VARIANTS.join(', ')})`)
    return v as VariantName
  })
  const concurrency = Math.round(number(values.concurrency, base.concurrency, 'concurrency', 1))
  return {
    json: values.json,
    config: {
      ...base,
      variants,
      rounds: Math.round(number(values.rounds, base.rounds, 'rounds', 1)),
      seconds: number(values.seconds, base.seconds, 'seconds', 0.1),
      concurrency,
      dialerPool: Math.max(base.dialerPool, concurrency),
      reps: Math.round(number(values.reps, base.reps, 'reps', 0)),
      libp2pMetrics: values['libp2p-metrics'],
      profileDir: values.profile
    }
  }
}

/**
 * The connection benchmark (scripts/bench-connections.ts): authenticated connections per CPU-second
 * of fedgate against bare libp2p, mutual TLS and more, then revocation latency. Everything runs on
 * 127.0.0.1 in a temp directory that is removed on exit, SIGINT or SIGTERM.
 */
export async function connectionBenchmark (args: readonly string[]): Promise<void> {
  const { config, json } = parseConfig(args)
  const progress = (line: string): void => { if (!json) process.stderr.write(`${line}\n`) }
  await withTempDir(TEMP_PREFIX, async dir => {
    const variants = config.variants.length > 0 ? await throughput(join(dir, 'throughput'), config, progress) : []
    const rev = config.reps > 0 ? await revocation(join(dir, 'revocation'), config, progress) : undefined
    if (json) {
      const report = { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: availableParallelism(), config, throughput: variants, ratios: ratios(variants), revocation: rev ?? null }
      process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    } else {
      process.stdout.write(renderConnections(config, variants, rev) + '\n')
    }
  })
}
