import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { profiled } from '../profile.ts'
import { withTempDir } from '../temp-dir.ts'
import { renderPropagation, targets } from './report.ts'
import { propagation, type PropagationResult, type Topology } from './run.ts'

export const USAGE = 'node scripts/bench-propagation.ts [--quick] [--json] [--nodes 10,20,50] [--topologies line,mesh] [--reps N] [--profile DIR]'

/** Temp directories start with this, so a test can check that none are left behind. */
export const TEMP_PREFIX = 'fedgate-bench-propagation-'

const FULL = { nodes: [10, 20, 50], reps: 10 }
const QUICK = { nodes: [6], reps: 2 }
const TOPOLOGIES: readonly Topology[] = ['line', 'mesh']

function count (value: string, option: string, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`--${option} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`)
  return n
}

/**
 * The propagation benchmark (scripts/bench-propagation.ts): for federations of 10, 20 and 50 nodes
 * in a line and in a random mesh, the time from a revoking epoch landing on one node's disk to the
 * revoked member's last connection closing anywhere, p50 and p99, and per hop. Everything runs in
 * this process on 127.0.0.1, in a temp directory removed on exit, SIGINT or SIGTERM.
 */
export async function propagationBenchmark (args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      'quick': { type: 'boolean', default: false },
      'json': { type: 'boolean', default: false },
      'nodes': { type: 'string' },
      'topologies': { type: 'string' },
      'reps': { type: 'string' },
      'profile': { type: 'string' }
    }
  })
  const base = values.quick ? QUICK : FULL
  const sizes = values.nodes === undefined ? base.nodes : values.nodes.split(',').map(v => count(v, 'nodes', 2, 200))
  const reps = values.reps === undefined ? base.reps : count(values.reps, 'reps', 1, 100)
  const topologies = values.topologies === undefined
    ? [...TOPOLOGIES]
    : values.topologies.split(',').map(t => {
      if (!(TOPOLOGIES as readonly string[]).includes(t)) throw new Error(`--topologies: unknown topology ${JSON.stringify(t)} (known: ${TOPOLOGIES.join(', ')})`)
      return t as Topology
    })
  const progress = (line: string): void => { if (!values.json) process.stderr.write(`${line}\n`) }
  await withTempDir(TEMP_PREFIX, async dir => {
    const results: PropagationResult[] = []
    for (const n of sizes) {
      for (const topology of topologies) {
        progress(`${topology} of ${n} nodes`)
        const config = { reps, giveUpMs: 30_000 }
        results.push(await profiled(values.profile, `propagation-${topology}-${n}`, async () => await propagation(join(dir, `${topology}-${n}`), topology, n, config, progress)))
      }
    }
    if (values.json) {
      process.stdout.write(JSON.stringify({ node: process.version, cpus: availableParallelism(), reps, results, targets: targets(results) }, null, 2) + '\n')
    } else {
      process.stdout.write(renderPropagation(results, reps) + '\n')
    }
  })
}
