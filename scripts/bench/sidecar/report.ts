import type { RedisResult } from './redis.ts'

/** One tunnel carries at least 1 Gbit/s. */
export const TARGET_TUNNEL_MB_PER_SEC = 125
/** The tunnel adds at most this much to a small echo's median round trip over direct TCP. */
export const TARGET_ECHO_OVERHEAD_MS = 0.2
/** The tunnel moves at least this share of what one bare libp2p stream with the same crypto moves. */
export const TARGET_VS_BARE = 0.8

export interface VariantResult {
  name: 'direct' | 'tunnel' | 'bare'
  /** One value per round. */
  mbPerSec: number[]
  /** CPU time all processes of the benchmark spent per MB moved, one value per round. */
  cpuMsPerMb: number[]
  /** Every measured echo round trip, in ms. */
  echoMs: number[]
}

export interface Report {
  config: { megabytes: number, rounds: number, echoRounds: number, redisRequests: number, redisClients: number }
  variants: VariantResult[]
  redis: { requests: number, clients: number, direct: RedisResult[], tunnel: RedisResult[] }
  memory: { exposer: { rssMiB: number, peakMiB: number }, forwarder: { rssMiB: number, peakMiB: number } }
}

const LABELS: Readonly<Record<VariantResult['name'], string>> = {
  direct: 'direct TCP (loopback)',
  tunnel: 'fedgate tunnel (forward → expose)',
  bare: 'bare libp2p stream (same Noise)'
}

export function median (values: readonly number[]): number {
  return percentile(values, 50)
}

export function percentile (values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
}

/** The report as text: the variants side by side, redis-benchmark, the targets and the daemons' memory. */
export function formatReport (report: Report): string {
  const { config } = report
  const byName = new Map(report.variants.map(v => [v.name, v]))
  const mb = (name: VariantResult['name']): number => median(byName.get(name)?.mbPerSec ?? [])
  const p50 = (name: VariantResult['name']): number => percentile(byName.get(name)?.echoMs ?? [], 50)
  const lines: string[] = [
    `sidecar benchmark: ${config.megabytes} MiB per throughput round (median of ${config.rounds}), ${config.echoRounds} echo round trips of 32 bytes`,
    '',
    table(['variant', 'MB/s', 'CPU ms/MB', 'echo p50 ms', 'echo p99 ms'], report.variants.map(v => [
      LABELS[v.name], median(v.mbPerSec).toFixed(1), median(v.cpuMsPerMb).toFixed(2), percentile(v.echoMs, 50).toFixed(3), percentile(v.echoMs, 99).toFixed(3)
    ])),
    '',
    `redis-benchmark, ${report.redis.requests} requests per test, ${report.redis.clients} clients (one tunnel each)`,
    table(['test', 'direct rps', 'tunnel rps', 'tunnel/direct', 'direct p50 ms', 'tunnel p50 ms'], report.redis.direct.map(d => {
      const t = report.redis.tunnel.find(r => r.test === d.test)
      return [d.test, d.rps.toFixed(0), (t?.rps ?? NaN).toFixed(0), ((t?.rps ?? NaN) / d.rps).toFixed(2) + 'x', d.p50Ms.toFixed(3), (t?.p50Ms ?? NaN).toFixed(3)]
    })),
    ''
  ]
  const overhead = p50('tunnel') - p50('direct')
  const vsBare = mb('tunnel') / mb('bare')
  lines.push(table(['target', 'measured', 'result'], [
    [`one tunnel >= 1 Gbit/s (${TARGET_TUNNEL_MB_PER_SEC} MB/s)`, `${mb('tunnel').toFixed(1)} MB/s`, verdict(mb('tunnel') >= TARGET_TUNNEL_MB_PER_SEC)],
    [`echo p50 overhead over direct TCP <= ${TARGET_ECHO_OVERHEAD_MS} ms`, `${overhead.toFixed(3)} ms`, verdict(overhead <= TARGET_ECHO_OVERHEAD_MS)],
    [`tunnel / bare libp2p stream throughput >= ${TARGET_VS_BARE.toFixed(1)}x`, `${vsBare.toFixed(2)}x`, verdict(vsBare >= TARGET_VS_BARE)]
  ]))
  const { exposer, forwarder } = report.memory
  lines.push('', `daemon memory after the run: exposer RSS ${exposer.rssMiB.toFixed(0)} MiB (peak ${exposer.peakMiB.toFixed(0)}), forwarder RSS ${forwarder.rssMiB.toFixed(0)} MiB (peak ${forwarder.peakMiB.toFixed(0)})`)
  return lines.join('\n') + '\n'
}

function verdict (ok: boolean): string {
  return ok ? 'PASS' : 'MISS'
}

function table (headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ')
  return [line(headers), ...rows.map(line)].join('\n')
}
