/** Statistics for the benchmarks: medians, nearest-rank percentiles, latency distributions. */

export interface Distribution {
  readonly samples: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Nearest-rank percentile of ascending `sorted` values (`p` in 0..1). */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN
}

export function distribution (values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b)
  return { samples: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? Number.NaN }
}

/** CPU time (user + system) this process has spent since `start` (a process.cpuUsage() reading), in ms. */
export function cpuMsSince (start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

/** Operations per second of `op` run `count` times: the median of `reps` timed runs after one warmup run. */
export function opsPerSecond (reps: number, count: number, op: (i: number) => void): number {
  const rates: number[] = []
  for (let run = 0; run <= reps; run++) {
    const t0 = performance.now()
    for (let i = 0; i < count; i++) op(i)
    const elapsedMs = performance.now() - t0
    if (run > 0) rates.push(count / (elapsedMs / 1000))
  }
  return median(rates)
}
