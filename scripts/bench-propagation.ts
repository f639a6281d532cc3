/**
 * Propagation benchmark: a revoking roster epoch written to one node's disk, spread by roster sync
 * across 10, 20 and 50 nodes in a line and in a mesh. Options: node/bench/propagation/index.ts (USAGE).
 */
import { propagationBenchmark } from '../node/bench/propagation/index.ts'

await propagationBenchmark(process.argv.slice(2))
