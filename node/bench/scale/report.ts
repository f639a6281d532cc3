import { availableParallelism } from 'node:os'
import { fixed, grouped, table, verdict } from '../table.ts'
import type { ScaleResult } from './run.ts'
import { NODES_PER_MEMBER } from './setup.ts'

/** Targets: an epoch at 2,000 peers, the ramp, and fedgate against bare libp2p. */
export const TARGETS = {
  epochCpuMsAt2000: 500,
  epochLoopP99Ms: 20,
  epochLoopMaxMs: 100,
  rampQ4OverQ1: 1.2,
  connPerSecVsBare: 0.9
} as const

const KIB = 1024
const MIB = 1024 * 1024

function range (values: readonly number[], digits: number, scale = 1): string {
  const finite = values.filter(Number.isFinite)
  if (finite.length === 0) return '-'
  const lo = Math.min(...finite) / scale
  const hi = Math.max(...finite) / scale
  return lo.toFixed(digits) === hi.toFixed(digits) ? lo.toFixed(digits) : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`
}

function q4OverQ1 (r: ScaleResult): number {
  return (r.quarters[3]?.cpuMsPerConn ?? Number.NaN) / (r.quarters[0]?.cpuMsPerConn ?? Number.NaN)
}

function pair (results: readonly ScaleResult[]): Array<{ n: number, fedgate?: ScaleResult, bare?: ScaleResult }> {
  const ns = [...new Set(results.map(r => r.connections))].sort((a, b) => a - b)
  return ns.map(n => ({ n, fedgate: results.find(r => r.variant === 'fedgate' && r.connections === n), bare: results.find(r => r.variant === 'bare' && r.connections === n) }))
}

/** The verdicts of one run against the targets. */
export function targets (results: readonly ScaleResult[]): Array<{ name: string, measured: string, pass: boolean | null }> {
  const rows: Array<{ name: string, measured: string, pass: boolean | null }> = []
  const fedgate = results.filter(r => r.variant === 'fedgate')
  const at2000 = fedgate.find(r => r.connections === 2000)
  if (at2000 !== undefined && at2000.epochs.length > 0) {
    const cpu = Math.max(...at2000.epochs.map(e => e.cpuMs))
    const p99 = Math.max(...at2000.epochs.map(e => e.loopP99Ms))
    const max = Math.max(...at2000.epochs.map(e => e.loopMaxMs))
    rows.push({ name: `listener CPU per epoch at 2,000 peers <= ${TARGETS.epochCpuMsAt2000} ms`, measured: `${Math.round(cpu)} ms`, pass: cpu <= TARGETS.epochCpuMsAt2000 })
    rows.push({ name: `event-loop p99 during an epoch at 2,000 peers <= ${TARGETS.epochLoopP99Ms} ms`, measured: `${fixed(p99)} ms`, pass: p99 <= TARGETS.epochLoopP99Ms })
    rows.push({ name: `event-loop max during an epoch at 2,000 peers <= ${TARGETS.epochLoopMaxMs} ms`, measured: `${fixed(max)} ms`, pass: max <= TARGETS.epochLoopMaxMs })
  }
  for (const r of fedgate) {
    const ratio = q4OverQ1(r)
    rows.push({ name: `N=${r.connections}: listener CPU per connection, Q4 / Q1 <= ${TARGETS.rampQ4OverQ1}`, measured: `${fixed(ratio, 2)}x`, pass: Number.isFinite(ratio) ? ratio <= TARGETS.rampQ4OverQ1 : null })
  }
  for (const { n, fedgate: f, bare: b } of pair(results)) {
    if (f === undefined || b === undefined) continue
    const ratio = f.connPerSec / b.connPerSec
    rows.push({ name: `N=${n}: conn/s, fedgate / bare >= ${TARGETS.connPerSecVsBare}`, measured: `${fixed(ratio, 2)}x`, pass: ratio >= TARGETS.connPerSecVsBare })
  }
  const syncErrors = fedgate.reduce((sum, r) => sum + (r.pulls.failed ?? 0) + (r.pulls.refused ?? 0), 0)
  const missing = fedgate.reduce((sum, r) => sum + r.epochs.reduce((s, e) => s + e.missing, 0), 0)
  if (fedgate.some(r => r.epochs.length > 0)) {
    rows.push({ name: 'roster-sync errors (failed or refused pulls), every N', measured: String(syncErrors), pass: syncErrors === 0 })
    rows.push({ name: 'peers that never reached an epoch, every N', measured: String(missing), pass: missing === 0 })
  }
  const failed = results.reduce((sum, r) => sum + r.failed, 0)
  rows.push({ name: 'connections that failed, every N and variant', measured: String(failed), pass: failed === 0 })
  return rows
}

export function renderScale (results: readonly ScaleResult[], config: { processes: number, concurrency: number, epochs: number }): string {
  const out: string[] = []
  out.push(`fedgate scale benchmark: one listener process, ${config.processes} dialer processes (${config.concurrency} dials in flight each), every connection with one idle yamux stream`)
  out.push(`node ${process.version}, ${availableParallelism()} CPUs; dialers are ${NODES_PER_MEMBER} node keys per member; bare = libp2p with fedgate's Noise crypto (nodeNoiseCrypto), yamux, TCP`)
  out.push('')
  const rows: string[][] = [['N', 'heap/conn KiB f / b', 'ratio', 'heap after close KiB f / b', 'conn/s f / b', 'ratio', 'CPU ms/conn Q1→Q4 fedgate', 'Q4/Q1', 'CPU ms/conn Q1→Q4 bare', 'Q4/Q1']]
  for (const { n, fedgate: f, bare: b } of pair(results)) {
    const quarters = (r: ScaleResult | undefined): string => r === undefined ? '-' : r.quarters.map(q => fixed(q.cpuMsPerConn, 1)).join(' → ')
    rows.push([
      grouped(n),
      `${fixed((f?.heapPerConnBytes ?? Number.NaN) / KIB)} / ${fixed((b?.heapPerConnBytes ?? Number.NaN) / KIB)}`,
      `${fixed((f?.heapPerConnBytes ?? Number.NaN) / (b?.heapPerConnBytes ?? Number.NaN), 2)}x`,
      `${fixed((f?.heapAfterCloseBytes ?? Number.NaN) / KIB, 0)} / ${fixed((b?.heapAfterCloseBytes ?? Number.NaN) / KIB, 0)}`,
      `${fixed(f?.connPerSec ?? Number.NaN, 0)} / ${fixed(b?.connPerSec ?? Number.NaN, 0)}`,
      `${fixed((f?.connPerSec ?? Number.NaN) / (b?.connPerSec ?? Number.NaN), 2)}x`,
      quarters(f),
      f === undefined ? '-' : `${fixed(q4OverQ1(f), 2)}x`,
      quarters(b),
      b === undefined ? '-' : `${fixed(q4OverQ1(b), 2)}x`
    ])
  }
  out.push('Connections: listener heap per connection (after a full GC), listener CPU per new connection by quarter of the ramp')
  out.push(table(rows))
  const withEpochs = results.filter(r => r.variant === 'fedgate' && r.epochs.length > 0)
  if (withEpochs.length > 0) {
    out.push('')
    out.push(`Roster epochs (fedgate, ${config.epochs} per N, each revoking a member with no connection): from the listener accepting it to the last peer holding it`)
    const epochRows: string[][] = [['N', 'listener CPU/epoch ms', 'idle CPU ms/s', 'loop p99 ms', 'loop max ms', 'idle loop p99 / max ms', 'last peer ms', 'pulls: inline', 'delivered', 'ignored', 'failed', 'refused', 'missing']]
    for (const r of withEpochs) {
      epochRows.push([
        grouped(r.connections),
        range(r.epochs.map(e => e.cpuMs), 0),
        fixed(r.idleCpuMsPerSec, 0),
        range(r.epochs.map(e => e.loopP99Ms), 1),
        range(r.epochs.map(e => e.loopMaxMs), 1),
        `${fixed(r.idleLoopP99Ms)} / ${fixed(r.idleLoopMaxMs)}`,
        range(r.epochs.map(e => e.lastPeerMs), 0),
        String(r.pulls.inline ?? 0),
        String(r.pulls.delivered ?? 0),
        String(r.pulls.ignored ?? 0),
        String(r.pulls.failed ?? 0),
        String(r.pulls.refused ?? 0),
        String(r.epochs.reduce((s, e) => s + e.missing, 0))
      ])
    }
    out.push(table(epochRows))
  }
  out.push('')
  out.push('Where things run: the listener (fedgate node or bare libp2p) alone in one process; the dialer nodes split across the dialer processes')
  const where: string[][] = [['variant', 'N', 'listener RSS MiB', 'dialer heap MiB (all processes, before connecting)', 'failed connections']]
  for (const r of results) where.push([r.variant, grouped(r.connections), fixed(r.listenerRssBytes / MIB, 0), fixed(r.dialerHeapBytes / MIB, 0), r.failed === 0 ? '0' : `${r.failed} (${r.errors.join('; ')})`])
  out.push(table(where))
  out.push('')
  const verdicts = targets(results)
  out.push(table([['target', 'measured', 'result'], ...verdicts.map(t => [t.name, t.measured, verdict(t.pass)])]))
  return out.join('\n')
}
