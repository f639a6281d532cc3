/**
 * Membership benchmark: roster load and verify at 1k, 10k and 100k members, and credential
 * verification cold (noble, native OpenSSL; fresh member keys) and cached. Options:
 * node/bench/membership/index.ts (USAGE).
 */
import { membershipBenchmark } from '../node/bench/membership/index.ts'

await membershipBenchmark(process.argv.slice(2))
