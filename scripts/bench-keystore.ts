/**
 * Keystore benchmark: the time to encrypt and to open an admin or member key file at each scrypt
 * cost. Options: node/bench/keystore/index.ts (USAGE).
 */
import { keystoreBenchmark } from '../node/bench/keystore/index.ts'

keystoreBenchmark(process.argv.slice(2))
