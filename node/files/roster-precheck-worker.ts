import { parentPort, workerData } from 'node:worker_threads'
import { acceptRoster, MalformedError, Roster, RosterRefusedError } from '../../membership/index.ts'
import type { PrecheckInput, PrecheckVerdict } from './roster-precheck.ts'

const { text, current } = workerData as PrecheckInput
let verdict: PrecheckVerdict | null = null
try {
  const next = Roster.parse(text)
  try {
    acceptRoster(current, next)
  } catch (err) {
    if (!(err instanceof RosterRefusedError)) throw err
    verdict = { code: err.code, message: err.detail, ...(err.code === 'roster-stale' && next.fingerprint === current?.fingerprint ? { inForce: true } : {}) }
  }
} catch (err) {
  if (!(err instanceof MalformedError)) throw err
  verdict = { code: 'malformed', message: err.message }
}
parentPort?.postMessage(verdict)
