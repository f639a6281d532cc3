import { readFile, stat } from 'node:fs/promises'
import {
  acceptRoster, Credential, CredentialVerifier, Roster, verifyCredential, verifyNative, verifyNoble, type SignatureVerifier
} from '../../../membership/index.ts'
import { createFederationBuilder } from '../../builder/index.ts'
import { BENCH_FEDERATION } from '../federation.ts'
import { median, opsPerSecond } from '../stats.ts'

/** What one roster child measures (the parent adds the member count and target). */
export interface RosterMeasurement {
  fileBytes: number
  loadMs: number
  verifyMs: number
  totalMs: number
  firstTotalMs: number
  peakRssBytes: number
  rssGrowthBytes: number
  retainedHeapBytes: number
}

export interface CredentialMeasurement {
  /** Credentials per timed run (each signed by a member key no earlier run used). */
  pool: number
  /** Distinct member keys across all runs. */
  memberKeys: number
  coldNobleOpsPerSec: number
  coldNativeOpsPerSec: number
  cachedOpsPerSec: number
}

function gc (): void {
  if (typeof globalThis.gc === 'function') globalThis.gc()
}

/** Read + parse (load), then acceptRoster as genesis (verify), on a fresh Roster each run. */
export async function rosterWorker (file: string, reps: number): Promise<RosterMeasurement> {
  gc()
  const baseRss = process.memoryUsage().rss
  const baseHeap = process.memoryUsage().heapUsed
  const load: number[] = []
  const verify: number[] = []
  const total: number[] = []
  let peakRssBytes = 0
  let kept: Roster | undefined
  for (let run = 0; run <= reps; run++) {
    kept = undefined
    const t0 = performance.now()
    const roster = Roster.parse(await readFile(file, 'utf8'))
    const t1 = performance.now()
    acceptRoster(null, roster)
    const t2 = performance.now()
    if (run === 0) peakRssBytes = process.resourceUsage().maxRSS * 1024
    load.push(t1 - t0)
    verify.push(t2 - t1)
    total.push(t2 - t0)
    kept = roster
  }
  gc()
  const retainedHeapBytes = process.memoryUsage().heapUsed - baseHeap
  if (kept === undefined) throw new Error('no roster loaded')
  return {
    fileBytes: (await stat(file)).size,
    loadMs: median(load.slice(1)),
    verifyMs: median(verify.slice(1)),
    totalMs: median(total.slice(1)),
    firstTotalMs: total[0] ?? 0,
    peakRssBytes,
    rssGrowthBytes: peakRssBytes - baseRss,
    retainedHeapBytes
  }
}

interface Presented {
  readonly bytes: Uint8Array
  readonly peer: string
}

/**
 * Credential verification. Cold: Credential.decode(bytes) + verifyCredential, where every run uses
 * credentials signed by member keys no earlier run has seen, so no key object is cached (the native
 * verifier caches one per member key); noble runs first over the same pools, and caches nothing.
 * Cached: CredentialVerifier re-checking credentials whose signatures it has verified before.
 */
export async function credentialWorker (reps: number, poolSize: number, nodeCount: number, cachedMinMs: number): Promise<CredentialMeasurement> {
  const runs = reps + 1
  const memberIds = Array.from({ length: runs * poolSize }, (_, i) => `member-${i}`)
  const fed = createFederationBuilder({ federation: BENCH_FEDERATION, members: memberIds.map(id => ({ id, roles: ['full-node'] })) })
  const roster = fed.roster
  const peers = await Promise.all(Array.from({ length: nodeCount }, async (_, i) => (await fed.nodeKey(`node-${i}`)).peerId))
  const now = Date.now()
  const pools: Presented[][] = []
  for (let run = 0; run < runs; run++) {
    const pool: Presented[] = []
    for (let i = 0; i < poolSize; i++) {
      const peer = peers[(run * poolSize + i) % peers.length] ?? ''
      const credential = await fed.issue({ member: memberIds[run * poolSize + i] ?? '', peer, serial: `bench-${run}-${i}`, now: now - 60_000 })
      pool.push({ bytes: new TextEncoder().encode(credential.encode()), peer })
    }
    pools.push(pool)
  }
  const cold = (verify: SignatureVerifier): number => {
    const rates = pools.map(pool => {
      const t0 = performance.now()
      for (const entry of pool) {
        const verdict = verifyCredential(Credential.decode(entry.bytes), entry.peer, roster, now, verify)
        if (verdict !== null) throw new Error(`benchmark credential refused: ${verdict}`)
      }
      return pool.length / ((performance.now() - t0) / 1000)
    })
    return median(rates.slice(1))
  }
  const coldNobleOpsPerSec = cold(verifyNoble)
  const coldNativeOpsPerSec = cold(verifyNative)

  const verifier = new CredentialVerifier()
  const cachedPool = (pools[0] ?? []).map(entry => ({ credential: Credential.decode(entry.bytes), peer: entry.peer }))
  const cachedOp = (i: number): void => {
    const entry = cachedPool[i % cachedPool.length]
    if (entry === undefined || verifier.verify(entry.credential, entry.peer, roster, now) !== null) throw new Error('benchmark credential refused')
  }
  cachedPool.forEach((_, i) => { cachedOp(i) })
  let cachedCount = cachedPool.length
  for (;;) {
    const t0 = performance.now()
    for (let i = 0; i < cachedCount; i++) cachedOp(i)
    if (performance.now() - t0 >= cachedMinMs) break
    cachedCount *= 2
  }
  return { pool: poolSize, memberKeys: memberIds.length, coldNobleOpsPerSec, coldNativeOpsPerSec, cachedOpsPerSec: opsPerSecond(reps, cachedCount, cachedOp) }
}
