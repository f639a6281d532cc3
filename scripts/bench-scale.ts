/**
 * Scale benchmark: one listener holding 100 to 5,000 connections, fedgate against bare libp2p with
 * the same Noise crypto; roster epochs spreading to every peer. Options: node/bench/scale/index.ts (USAGE).
 */
import { scaleBenchmark } from '../node/bench/scale/index.ts'

await scaleBenchmark(process.argv.slice(2))
