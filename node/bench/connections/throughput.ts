import { profiled } from '../profile.ts'
import { cpuMsSince, median } from '../stats.ts'
import { setUpVariant, VARIANT_LABELS, type Bench, type VariantName, type VariantSetup } from './variants.ts'

/** A variant that fails this many ops in one round is broken; stop it rather than spin. */
const MAX_ERRORS_PER_ROUND = 50

export interface ThroughputConfig extends VariantSetup {
  readonly variants: readonly VariantName[]
  readonly rounds: number
  readonly seconds: number
  readonly warmupSeconds: number
  /** Write one V8 CPU profile per variant and measured round here. */
  readonly profileDir: string | undefined
}

export interface RoundResult {
  readonly ops: number
  readonly errors: number
  readonly seconds: number
  readonly connPerSec: number
  /** CPU time (user + system) this process spent per connection: robust to other load on the machine. */
  readonly cpuMsPerConn: number
}

export interface VariantResult {
  readonly name: VariantName
  readonly label: string
  readonly rounds: RoundResult[]
  medianConnPerSec: number
  medianCpuMsPerConn: number
  /** Connections per CPU-second: 1000 / medianCpuMsPerConn. */
  connPerCpuSecond: number
  firstError?: string
}

/** `concurrency` loops run `bench.op` back to back for `seconds`. */
async function measure (bench: Bench, concurrency: number, seconds: number, onError: (err: unknown) => void): Promise<RoundResult> {
  let ops = 0
  let errors = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    for (let iteration = 0; performance.now() < deadline && errors < MAX_ERRORS_PER_ROUND; iteration++) {
      try {
        await bench.op(loop, iteration)
        ops++
      } catch (err) {
        errors++
        onError(err)
      }
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  return { ops, errors, seconds: elapsed, connPerSec: ops / elapsed, cpuMsPerConn: cpuMsSince(cpu0) / Math.max(ops, 1) }
}

/**
 * Sets every variant up, warms each up, then measures them in interleaved rounds whose order rotates
 * each round, so a burst of load elsewhere on the machine hits every variant alike. Each variant
 * reports the median of its rounds.
 */
export async function throughput (dir: string, config: ThroughputConfig, progress: (line: string) => void): Promise<VariantResult[]> {
  const benches = new Map<VariantName, Bench>()
  const results: VariantResult[] = []
  try {
    for (const name of config.variants) {
      benches.set(name, await setUpVariant(name, dir, config))
      results.push({ name, label: VARIANT_LABELS[name], rounds: [], medianConnPerSec: 0, medianCpuMsPerConn: 0, connPerCpuSecond: 0 })
    }
    const noteError = (result: VariantResult) => (err: unknown): void => {
      result.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }
    for (const result of results) {
      const bench = benches.get(result.name)
      if (bench !== undefined) await measure(bench, config.concurrency, config.warmupSeconds, noteError(result))
    }
    for (let round = 0; round < config.rounds; round++) {
      for (let i = 0; i < results.length; i++) {
        const result = results[(i + round) % results.length]
        const bench = result === undefined ? undefined : benches.get(result.name)
        if (result === undefined || bench === undefined) continue
        const measured = await profiled(config.profileDir, `${result.name}-round${round + 1}`, async () => await measure(bench, config.concurrency, config.seconds, noteError(result)))
        result.rounds.push(measured)
        progress(`round ${round + 1}/${config.rounds} ${result.name}: ${measured.connPerSec.toFixed(1)} conn/s, ${measured.cpuMsPerConn.toFixed(2)} CPU ms/conn (${measured.ops} ops, ${measured.errors} errors)`)
      }
    }
  } finally {
    await Promise.all([...benches.values()].map(async b => { await b.stop() }))
  }
  for (const result of results) {
    result.medianConnPerSec = median(result.rounds.map(r => r.connPerSec))
    result.medianCpuMsPerConn = median(result.rounds.map(r => r.cpuMsPerConn))
    result.connPerCpuSecond = 1000 / result.medianCpuMsPerConn
  }
  return results
}
