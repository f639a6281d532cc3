import { grouped, table, verdict } from '../table.ts'
import type { CredentialMeasurement, RosterMeasurement } from './workers.ts'

const MB = 1024 * 1024

/** Roster load + verify targets, by member count. */
export const ROSTER_TARGET_MS: Readonly<Record<number, number>> = { 10_000: 300, 100_000: 3_000 }
export const COLD_TARGET_OPS = 1_500
export const CACHED_TARGET_OPS = 100_000

export interface RosterResult extends RosterMeasurement {
  members: number
  targetMs: number | null
  pass: boolean | null
}

export interface RateResult {
  opsPerSec: number
  targetOpsPerSec: number
  pass: boolean
}

export interface CredentialResult {
  pool: number
  memberKeys: number
  coldNoble: RateResult
  coldNative: RateResult
  cached: RateResult
  nativeOverNoble: number
}

export function rosterResult (members: number, measured: RosterMeasurement): RosterResult {
  const targetMs = ROSTER_TARGET_MS[members] ?? null
  return { members, ...measured, targetMs, pass: targetMs === null ? null : measured.totalMs <= targetMs }
}

export function credentialResult (measured: CredentialMeasurement): CredentialResult {
  const rate = (opsPerSec: number, targetOpsPerSec: number): RateResult => ({ opsPerSec, targetOpsPerSec, pass: opsPerSec >= targetOpsPerSec })
  return {
    pool: measured.pool,
    memberKeys: measured.memberKeys,
    coldNoble: rate(measured.coldNobleOpsPerSec, COLD_TARGET_OPS),
    coldNative: rate(measured.coldNativeOpsPerSec, COLD_TARGET_OPS),
    cached: rate(measured.cachedOpsPerSec, CACHED_TARGET_OPS),
    nativeOverNoble: measured.coldNativeOpsPerSec / measured.coldNobleOpsPerSec
  }
}

export function renderMembership (rosters: readonly RosterResult[], creds: CredentialResult, reps: number): string {
  const rosterRows = [
    ['members', 'file MB', 'load ms', 'verify ms', 'total ms', 'first run ms', 'peak RSS MB', 'RSS growth MB', 'heap kept MB', 'target ms', 'result'],
    ...rosters.map(r => [
      grouped(r.members), grouped(r.fileBytes / MB, 1), grouped(r.loadMs, 1), grouped(r.verifyMs, 1), grouped(r.totalMs, 1), grouped(r.firstTotalMs, 1),
      grouped(r.peakRssBytes / MB), grouped(r.rssGrowthBytes / MB), grouped(r.retainedHeapBytes / MB, 1),
      r.targetMs === null ? '-' : `<= ${grouped(r.targetMs)}`, verdict(r.pass)
    ])
  ]
  const rateRow = (name: string, r: RateResult): string[] => [name, grouped(r.opsPerSec), grouped(1e6 / r.opsPerSec, 1), `>= ${grouped(r.targetOpsPerSec)}`, verdict(r.pass)]
  return [
    `fedgate membership benchmark: node ${process.version}, ${process.platform}/${process.arch}, median of ${reps} run(s) after 1 warmup, one child process per row`,
    '',
    'roster: load = read file + Roster.parse; verify = acceptRoster(null, roster); total = load + verify',
    table(rosterRows),
    '',
    `credentials: ${grouped(creds.pool)} per run; cold = Credential.decode(bytes) + verifyCredential, each credential from a member key no earlier run used`,
    `(${grouped(creds.memberKeys)} member keys, so no cached key objects); cached = CredentialVerifier re-checking credentials it verified before`,
    table([
      ['credential verify', 'ops/s', 'us/op', 'target', 'result'],
      rateRow('cold, noble (decode + verify)', creds.coldNoble),
      rateRow('cold, native (decode + verify)', creds.coldNative),
      rateRow('cached (CredentialVerifier)', creds.cached)
    ]),
    `native/noble: ${grouped(creds.nativeOverNoble, 1)}x`
  ].join('\n')
}
