import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { AdminSet, ReasonCode, RosterHead } from '../../membership/index.ts'

/** Roster texts larger than this from an untrusted source are checked off the main thread first. */
export const OFF_THREAD_BYTES = 1024 * 1024

export interface PrecheckVerdict {
  readonly code: ReasonCode
  readonly message: string
  /** Set with `roster-stale` when the text is the accepted epoch itself (a harmless repeat). */
  readonly inForce?: boolean
}

/** What the worker is given: the text, and the head of the accepted epoch it must follow (null: none yet). */
export interface PrecheckInput {
  readonly text: string
  readonly current: { readonly federation: string, readonly epoch: number, readonly admins: AdminSet, readonly fingerprint: string } | null
}

const WORKER = new URL(`./roster-precheck-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/**
 * Checks a large roster text from an untrusted source (the admin endpoint, a peer) in a worker
 * thread: JSON, format, and a threshold of signatures by `current`'s admins. Null when it may be
 * applied, else the refusal. Only text that passes is then parsed on the main thread, so hostile
 * input (megabytes of `[{},{},…]`, a forged epoch) never stalls the event loop. Small texts are
 * checked where they are applied, which is cheaper than a thread.
 */
export async function precheckRoster (text: string, current: (RosterHead & { readonly fingerprint: string }) | null): Promise<PrecheckVerdict | null> {
  if (text.length < OFF_THREAD_BYTES) return null
  const input: PrecheckInput = { text, current: current === null ? null : { federation: current.federation, epoch: current.epoch, admins: current.admins, fingerprint: current.fingerprint } }
  return await new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: input })
    worker.once('message', (verdict: PrecheckVerdict | null) => { resolve(verdict) })
    worker.once('error', reject)
    worker.once('exit', code => { if (code !== 0) reject(new Error(`roster check worker exited with code ${code}`)) })
  })
}
