/**
 * Connection benchmark: fedgate against bare libp2p with the same Noise crypto (the headline, by
 * connections per CPU-second), stock Noise, mutual TLS and secp256k1 node keys; then revocation
 * latency. Options: node/bench/connections/index.ts (USAGE).
 */
import { connectionBenchmark } from '../node/bench/connections/index.ts'

await connectionBenchmark(process.argv.slice(2))
