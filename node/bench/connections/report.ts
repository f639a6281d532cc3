import { availableParallelism } from 'node:os'
import { median, type Distribution } from '../stats.ts'
import { fixed, table, verdict } from '../table.ts'
import { REVOCATION_GIVE_UP_MS, type RevocationResult } from './revocation.ts'
import type { ThroughputConfig, VariantResult } from './throughput.ts'
import type { VariantName } from './variants.ts'

/** The headline: fedgate against bare libp2p running the same Noise crypto, by connections per CPU-second. */
export const TARGET_VS_BARE_SAME_CRYPTO = 0.9
export const STRETCH_VS_MTLS = 1.0

export interface Ratio {
  readonly name: string
  /** Ratio of median connections per second (wall clock). */
  readonly value: number
  /**
   * Ratio of connections per CPU-second: the median over rounds of the two variants' ratio in that
   * round (each round runs them back to back, so both see the same machine).
   */
  readonly byCpu: number
  readonly target: number | null
}

const RATIOS: ReadonlyArray<{ readonly name: string, readonly of: VariantName, readonly to: VariantName, readonly target: number | null }> = [
  { name: 'fedgate / bare libp2p, same Noise crypto', of: 'fedgate', to: 'bare', target: TARGET_VS_BARE_SAME_CRYPTO },
  { name: 'fedgate / bare libp2p, stock Noise crypto', of: 'fedgate', to: 'bare-stock', target: null },
  { name: 'fedgate / Node mTLS (stretch)', of: 'fedgate', to: 'mtls', target: STRETCH_VS_MTLS },
  { name: 'fedgate-secp256k1 / bare libp2p, same Noise crypto', of: 'fedgate-secp256k1', to: 'bare', target: null }
]

export function ratios (variants: readonly VariantResult[]): Ratio[] {
  return RATIOS.flatMap(({ name, of, to, target }) => {
    const x = variants.find(v => v.name === of)
    const y = variants.find(v => v.name === to)
    if (x === undefined || y === undefined) return []
    const perRound = x.rounds.map((round, i) => (y.rounds[i]?.cpuMsPerConn ?? Number.NaN) / round.cpuMsPerConn)
    return [{ name, value: x.medianConnPerSec / y.medianConnPerSec, byCpu: median(perRound), target }]
  })
}

function throughputSection (config: ThroughputConfig, variants: readonly VariantResult[]): string[] {
  const lines = [
    '',
    `1. authenticated connections: op = connect + 1 stream (4-byte request/echo) + close; ${config.concurrency} concurrent dialers from a pool of ${config.dialerPool} distinct keys;`,
    `   ${config.rounds} interleaved round(s) of ${config.seconds} s after a ${config.warmupSeconds} s warmup; libp2p metrics ${config.libp2pMetrics ? 'on' : 'off'} on every libp2p node; median of rounds`,
    table([
      ['variant', ...variants[0]?.rounds.map((_, i) => `round ${i + 1}`) ?? [], 'median conn/s', 'CPU ms/conn', 'conn/CPU-s', 'errors'],
      ...variants.map(v => [
        v.name, ...v.rounds.map(r => fixed(r.connPerSec)), fixed(v.medianConnPerSec), fixed(v.medianCpuMsPerConn, 2), fixed(v.connPerCpuSecond),
        String(v.rounds.reduce((n, r) => n + r.errors, 0))
      ])
    ])
  ]
  for (const v of variants) if (v.firstError !== undefined) lines.push(`   first error in ${v.name}: ${v.firstError}`)
  const rs = ratios(variants)
  if (rs.length > 0) {
    const judged = (value: number, target: number | null): string => verdict(target === null ? null : value >= target)
    lines.push('', table([
      ['ratio', 'by conn/CPU-s', 'result', 'by conn/s', 'target'],
      ...rs.map(r => [r.name, `${fixed(r.byCpu, 2)}x`, judged(r.byCpu, r.target), `${fixed(r.value, 2)}x`, r.target === null ? '-' : `>= ${fixed(r.target, 2)}x`])
    ]), '   by conn/CPU-s (the target): median over rounds of the ratio of connections per CPU-second of this process, steady on a busy machine;',
    '   by conn/s: ratio of median wall-clock rates, for reference')
  }
  lines.push('', ...variants.map(v => `   ${v.name}: ${v.label}`))
  return lines
}

function revocationSection (rev: RevocationResult): string[] {
  const row = (side: string, d: Distribution): string[] => [side, String(d.samples), fixed(d.p50Ms), fixed(d.p99Ms), fixed(d.maxMs)]
  return [
    '',
    `2. revocation latency: ${rev.reps} repetition(s); each: ${rev.connectionsPerRep} admitted connections of one member (+${rev.keptConnections} of other members),`,
    '   a roster epoch revoking that member (signed 2-of-3) renamed over the listener\'s roster file; ms from the rename to each connection\'s close event',
    table([
      ['close event', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
      row('dialer side, every connection', rev.dialer.all),
      row('listener side, every connection', rev.listener.all),
      row('dialer side, last-closed per rep', rev.dialer.lastClosed),
      row('listener side, last-closed per rep', rev.listener.lastClosed),
      row('listener accepted the epoch', rev.rosterApplied)
    ]),
    `   missed closes (still open after ${REVOCATION_GIVE_UP_MS} ms): ${rev.missedCloses}; other members' connections closed: ${rev.keptClosed} (of ${rev.keptConnections}, expected 0)`,
    `   target p99 <= ${rev.targetP99Ms} ms on both sides, nothing missed, others kept: ${rev.pass ? 'PASS' : 'MISS'}`
  ]
}

/** The benchmark's text report. */
export function renderConnections (config: ThroughputConfig, variants: readonly VariantResult[], rev: RevocationResult | undefined): string {
  return [
    `fedgate connection benchmark: node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} CPUs; listener and dialers in one process on 127.0.0.1`,
    ...(variants.length > 0 ? throughputSection(config, variants) : []),
    ...(rev === undefined ? [] : revocationSection(rev))
  ].join('\n')
}
