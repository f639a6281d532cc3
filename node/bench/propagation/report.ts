import { availableParallelism } from 'node:os'
import { fixed, table, verdict } from '../table.ts'
import type { PropagationResult } from './run.ts'

/** Targets: the last connection of a revoked member closes within 1 s at 20 nodes in a mesh, and each hop adds at most 100 ms. */
export const TARGETS = { meshOf20P99Ms: 1_000, perHopMs: 100 } as const

export function targets (results: readonly PropagationResult[]): Array<{ name: string, measured: string, pass: boolean | null }> {
  const rows: Array<{ name: string, measured: string, pass: boolean | null }> = []
  const mesh20 = results.find(r => r.topology === 'mesh' && r.nodes === 20)
  if (mesh20 !== undefined) rows.push({ name: `mesh of 20: write to last close, p99 <= ${TARGETS.meshOf20P99Ms} ms`, measured: `${fixed(mesh20.lastClosed.p99Ms, 0)} ms`, pass: mesh20.lastClosed.p99Ms <= TARGETS.meshOf20P99Ms })
  for (const r of results) {
    rows.push({ name: `${r.topology} of ${r.nodes}: per hop, p99 <= ${TARGETS.perHopMs} ms`, measured: `${fixed(r.perHop.p99Ms, 0)} ms`, pass: r.perHop.p99Ms <= TARGETS.perHopMs })
  }
  const missed = results.reduce((sum, r) => sum + r.missed, 0)
  rows.push({ name: 'connections of a revoked member left open, every run', measured: String(missed), pass: missed === 0 })
  return rows
}

export function renderPropagation (results: readonly PropagationResult[], reps: number): string {
  const out: string[] = []
  out.push(`fedgate propagation benchmark: a revoking epoch written to one node's roster file, spread by roster sync; ${reps} revocations per federation`)
  out.push(`node ${process.version}, ${availableParallelism()} CPUs; every node is a fedgate node with its own roster file and data directory, all in this one process, on 127.0.0.1`)
  out.push('mesh = a ring plus one random chord dialled by each node (degree 4 on average); the revoked member holds a connection to every node')
  out.push('')
  const rows: string[][] = [['topology', 'nodes', 'links', 'hops', 'write → last close p50 ms', 'p99 ms', 'per hop (after the first node) p50 ms', 'p99 ms', 'first node (local) p50 ms', 'median close by hop, ms']]
  for (const r of results) {
    rows.push([
      r.topology,
      String(r.nodes),
      String(r.links),
      String(r.hops),
      fixed(r.lastClosed.p50Ms, 0),
      fixed(r.lastClosed.p99Ms, 0),
      fixed(r.perHop.p50Ms, 0),
      fixed(r.perHop.p99Ms, 0),
      fixed(r.local.p50Ms, 0),
      r.byHop.map(ms => fixed(ms, 0)).join(' ')
    ])
  }
  out.push(table(rows))
  out.push('')
  out.push(table([['target', 'measured', 'result'], ...targets(results).map(t => [t.name, t.measured, verdict(t.pass)])]))
  return out.join('\n')
}
