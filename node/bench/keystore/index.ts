import { generateSigningKey } from '../../../membership/index.ts'
import { decryptSigningKey, DEFAULT_KDF_COST, encryptSigningKey, MIN_KDF_COST } from '../../files/keystore.ts'
import { fixed, table } from '../table.ts'

export const USAGE = `usage: node scripts/bench-keystore.ts [--quick] [--json]
  Times opening an encrypted key file (scrypt + AES-256-GCM) at each scrypt cost from ${MIN_KDF_COST} to
  ${DEFAULT_KDF_COST} (the default), median of 3 runs, with the peak resident memory after each cost.
  --quick: cost ${MIN_KDF_COST} only, one run.`

export interface KeystoreRow {
  /** log2 of scrypt's N. */
  cost: number
  /** scrypt's memory use: 128 * N * r bytes. */
  scryptMiB: number
  encryptMs: number
  decryptMs: number
  rssMiB: number
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

function timed (fn: () => void): number {
  const start = performance.now()
  fn()
  return performance.now() - start
}

/** The keystore benchmark: one row per scrypt cost. */
export function keystoreBenchmark (argv: readonly string[]): void {
  if (argv.includes('--help')) {
    process.stdout.write(USAGE + '\n')
    return
  }
  const quick = argv.includes('--quick')
  const costs = quick ? [MIN_KDF_COST] : [14, 15, 16, 17, 18].filter(c => c <= DEFAULT_KDF_COST)
  const runs = quick ? 1 : 3
  const key = generateSigningKey('admin')
  const rows: KeystoreRow[] = costs.map(cost => {
    const encrypt: number[] = []
    const decrypt: number[] = []
    for (let i = 0; i < runs; i++) {
      let sealed = encryptSigningKey(key, 'benchmark passphrase', cost)
      encrypt.push(timed(() => { sealed = encryptSigningKey(key, 'benchmark passphrase', cost) }))
      decrypt.push(timed(() => { decryptSigningKey(sealed, 'benchmark passphrase') }))
    }
    return { cost, scryptMiB: 128 * 2 ** cost * 8 / 2 ** 20, encryptMs: median(encrypt), decryptMs: median(decrypt), rssMiB: process.memoryUsage().rss / 2 ** 20 }
  })
  if (argv.includes('--json')) {
    process.stdout.write(JSON.stringify({ rows }, null, 2) + '\n')
    return
  }
  process.stdout.write(table([
    ['cost (log2 N)', 'scrypt MiB', 'encrypt ms', 'open ms', 'rss MiB'],
    ...rows.map(r => [`${r.cost}${r.cost === DEFAULT_KDF_COST ? ' (default)' : ''}`, fixed(r.scryptMiB, 0), fixed(r.encryptMs), fixed(r.decryptMs), fixed(r.rssMiB, 0)])
  ]) + '\n')
}
