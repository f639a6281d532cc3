import type { Distribution } from '../stats.ts'
import { fixed, grouped, table, verdict } from '../table.ts'
import type { FloodCounts } from './flooder.ts'

/** Targets: a refused non-member costs at most this fraction of an admitted member's CPU. */
export const REFUSED_CPU_RATIO_TARGET = 0.5
/** Targets: member admission p99 during the flood at most this multiple of idle. */
export const FLOOD_P99_RATIO_TARGET = 2
/** Targets: the node is back to its baseline within this long after the flood. */
export const BACK_TO_BASELINE_TARGET_MS = 10_000

/** The node's footprint at one moment. */
export interface Footprint {
  readonly sockets: number
  readonly rssMiB: number
  /** Admitted connections. */
  readonly connections: number
  /** Handshakes in progress. */
  readonly pending: number
}

export interface FloodReport {
  readonly config: { identities: number, windowMs: number, samples: number, victim: string, floodingIp: string, distinctIp: string }
  readonly cpu: { refusedMsPerAttempt: number, refusedAttempts: number, admittedMsPerConnection: number, admittedConnections: number }
  readonly latency: { idleDistinct: Distribution, idleFlooding: Distribution, floodDistinct: Distribution, floodFlooding: Distribution }
  /** Member admissions that failed, by error, in each phase. */
  readonly failures: Readonly<Record<keyof FloodReport['latency'], Readonly<Record<string, number>>>>
  /** Whether the flood was still running when the members' probes during it ended. */
  readonly floodStillOn: boolean
  readonly flood: FloodCounts
  readonly refusalsByReason: Readonly<Record<string, number>>
  readonly footprint: { baseline: Footprint, peak: { sockets: number, rssMiB: number }, after: Footprint }
  /** NaN when it did not happen within the run's limit. */
  readonly backToBaselineMs: number
}

export function formatFloodReport (r: FloodReport): string {
  const { config: c, cpu, latency: l, footprint: f } = r
  const cpuRatio = cpu.refusedMsPerAttempt / cpu.admittedMsPerConnection
  const distinctRatio = l.floodDistinct.p99Ms / l.idleDistinct.p99Ms
  const floodingRatio = l.floodFlooding.p99Ms / l.idleFlooding.p99Ms
  const row = (label: string, d: Distribution): string[] => [label, String(d.samples), fixed(d.p50Ms), fixed(d.p99Ms), fixed(d.maxMs)]
  const reasons = Object.entries(r.refusalsByReason).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${grouped(v)}`).join(', ')
  return [
    `fedgate flood benchmark: one \`fedgate node start\` validator at ${c.victim}, each host its own network namespace`,
    `flood: ${c.identities} stock libp2p identities (plain Noise, no credential) from ${c.floodingIp}; members probe from ${c.floodingIp} (the flooding IP) and ${c.distinctIp} (a distinct IP)`,
    '',
    table([
      ['node CPU', 'ms per op', 'ops'],
      [`refused attempt (flood alone, ${fixed(c.windowMs / 1000, 0)} s)`, fixed(cpu.refusedMsPerAttempt, 3), grouped(cpu.refusedAttempts)],
      ['admitted connection (idle)', fixed(cpu.admittedMsPerConnection, 3), grouped(cpu.admittedConnections)],
      ['refused / admitted', `${fixed(cpuRatio, 2)}x`, '']
    ]),
    '',
    table([
      ['member admission (ms)', 'samples', 'p50', 'p99', 'max'],
      row('idle, distinct IP', l.idleDistinct),
      row('idle, flooding IP', l.idleFlooding),
      row('flood, distinct IP', l.floodDistinct),
      row('flood, flooding IP', l.floodFlooding),
      ['flood / idle, distinct IP', '', `${fixed(l.floodDistinct.p50Ms / l.idleDistinct.p50Ms, 2)}x`, `${fixed(distinctRatio, 2)}x`, ''],
      ['flood / idle, flooding IP', '', `${fixed(l.floodFlooding.p50Ms / l.idleFlooding.p50Ms, 2)}x`, `${fixed(floodingRatio, 2)}x`, '']
    ]),
    '',
    table([
      ['node footprint', 'baseline', 'peak', 'after'],
      ['open sockets', String(f.baseline.sockets), String(f.peak.sockets), String(f.after.sockets)],
      ['resident memory (MiB)', fixed(f.baseline.rssMiB), fixed(f.peak.rssMiB), fixed(f.after.rssMiB)]
    ]),
    'resident memory is the process\'s: V8 keeps the heap it grew to, so it is shown, not part of the baseline',
    `back to baseline (sockets, connections, no pending handshake) ${Number.isFinite(r.backToBaselineMs) ? `${fixed(r.backToBaselineMs / 1000, 2)} s` : 'not within the run'} after the flood stopped`,
    `flood: ${grouped(r.flood.attempts)} attempts, ${grouped(r.flood.refused)} refused, ${grouped(r.flood.admitted)} admitted; the node's refusals: ${reasons}`,
    `member admissions that failed: ${failed(r.failures)}${r.floodStillOn ? '' : '; the flood ended before the probes did'}`,
    '',
    table([
      ['target', 'measured', 'verdict'],
      [`refused attempt CPU <= ${REFUSED_CPU_RATIO_TARGET}x admitted connection`, `${fixed(cpuRatio, 2)}x`, verdict(cpuRatio <= REFUSED_CPU_RATIO_TARGET)],
      [`admission p99 during flood <= ${FLOOD_P99_RATIO_TARGET}x idle, distinct IP`, `${fixed(distinctRatio, 2)}x`, verdict(distinctRatio <= FLOOD_P99_RATIO_TARGET)],
      [`admission p99 during flood <= ${FLOOD_P99_RATIO_TARGET}x idle, flooding IP`, `${fixed(floodingRatio, 2)}x`, verdict(floodingRatio <= FLOOD_P99_RATIO_TARGET)],
      [`back to baseline within ${BACK_TO_BASELINE_TARGET_MS / 1000} s`, Number.isFinite(r.backToBaselineMs) ? `${fixed(r.backToBaselineMs / 1000, 2)} s` : '-', verdict(r.backToBaselineMs <= BACK_TO_BASELINE_TARGET_MS)]
    ]),
    ''
  ].join('\n')
}

const PHASES = { idleDistinct: 'idle, distinct IP', idleFlooding: 'idle, flooding IP', floodDistinct: 'flood, distinct IP', floodFlooding: 'flood, flooding IP' } as const

function failed (failures: FloodReport['failures']): string {
  const parts = Object.entries(PHASES).flatMap(([key, label]) => {
    const errors = Object.entries(failures[key as keyof typeof PHASES])
    return errors.length === 0 ? [] : [`${label}: ${errors.map(([e, n]) => `${n} × ${e}`).join(', ')}`]
  })
  return parts.length === 0 ? 'none' : parts.join('; ')
}
