import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent } from '../agent.ts'
import type { ConnectResult, DialersOps, DialersReady, EpochHeld } from './dialers.ts'
import type { ListenerOps, ListenerReady, ListenerSample } from './listener.ts'
import { nextEpoch, scaleFederation, type ScaleSetup, type ScaleVariant } from './setup.ts'

export interface RunConfig {
  /** Dialer processes. */
  readonly processes: number
  /** Dials in flight per dialer process. */
  readonly concurrency: number
  /** Roster epochs published after the ramp (fedgate only). */
  readonly epochs: number
  /** Give up on a peer reaching an epoch after this long. */
  readonly epochTimeoutMs: number
  /** Write V8 CPU profiles of the listener here (ramp, and the first epoch). */
  readonly profileDir: string | undefined
}

export interface QuarterResult {
  readonly connections: number
  readonly seconds: number
  /** Listener CPU per new connection (ms). */
  readonly cpuMsPerConn: number
  readonly loopP99Ms: number
  readonly loopMaxMs: number
}

export interface EpochResult {
  /** Listener CPU from the epoch's acceptance until the last peer held it, less its idle rate (ms). */
  readonly cpuMs: number
  readonly loopP99Ms: number
  readonly loopMaxMs: number
  /** From the epoch's acceptance on the listener until the last dialer put it in force (ms). */
  readonly lastPeerMs: number
  /** Dialers that did not reach it within the timeout. */
  readonly missing: number
}

export interface ScaleResult {
  readonly variant: ScaleVariant
  readonly connections: number
  readonly admitted: number
  readonly failed: number
  readonly errors: readonly string[]
  readonly processes: number
  /** Listener heap growth per open connection, after a full GC (bytes). */
  readonly heapPerConnBytes: number
  /** Listener heap after every connection closed, less the heap before the ramp (bytes). */
  readonly heapAfterCloseBytes: number
  readonly listenerRssBytes: number
  /** Dialer processes' heap with every node up, before connecting (bytes, summed). */
  readonly dialerHeapBytes: number
  readonly connPerSec: number
  readonly quarters: readonly QuarterResult[]
  /** Listener CPU while idle with every connection open (ms per second). */
  readonly idleCpuMsPerSec: number
  /** The listener's event-loop delay over the same idle window: the machine's noise floor (ms). */
  readonly idleLoopP99Ms: number
  readonly idleLoopMaxMs: number
  readonly epochs: readonly EpochResult[]
  /** Epochs the dialers fetched, by result (fedgate_roster_sync_pulls_total, summed). */
  readonly pulls: Readonly<Record<string, number>>
}

const LISTENER = new URL('./listener.ts', import.meta.url)
const DIALERS = new URL('./dialers.ts', import.meta.url)

/** One variant at one N: the listener and the dialer pools each in a process of their own. */
export async function runScale (setup: ScaleSetup, config: RunConfig, progress: (line: string) => void): Promise<ScaleResult> {
  const arg = JSON.stringify(setup)
  const n = setup.connections
  const processes = Math.max(1, Math.min(config.processes, n))
  const shares = Array.from({ length: processes }, (_, p) => Math.floor(n / processes) + (p < n % processes ? 1 : 0))
  const starts = shares.map((_, p) => shares.slice(0, p).reduce((a, b) => a + b, 0))
  const listener = await Agent.start<ListenerOps, ListenerReady>(LISTENER, [arg], ['--expose-gc'])
  const pools: Array<Agent<DialersOps, DialersReady>> = []
  try {
    pools.push(...await Promise.all(shares.map(async (count, p) =>
      Agent.start<DialersOps, DialersReady>(DIALERS, [arg, String(starts[p]), String(count)], ['--expose-gc', '--max-old-space-size=6144']))))
    progress(`  ${setup.variant} N=${n}: ${n} dialer nodes up in ${processes} processes (${Math.round(Math.max(...pools.map(p => p.ready.setupMs)))} ms)`)
    const baseline = await listener.call('sample', { gc: true })
    if (config.profileDir !== undefined) await listener.call('profile-start')
    const quarters: QuarterResult[] = []
    let admitted = 0
    const errors = new Set<string>()
    let last = await listener.call('sample', { gc: false })
    const rampStart = performance.now()
    for (let q = 0; q < 4; q++) {
      const t0 = performance.now()
      const results: ConnectResult[] = await Promise.all(pools.map(async (pool, p) => {
        const share = shares[p] ?? 0
        return await pool.call('connect', { from: Math.floor(share * q / 4), to: Math.floor(share * (q + 1) / 4), target: listener.ready.addr, concurrency: config.concurrency })
      }))
      const now = await listener.call('sample', { gc: false })
      const made = results.reduce((sum, r) => sum + r.ok, 0)
      for (const r of results) for (const e of r.errors) errors.add(e)
      admitted += made
      quarters.push({ connections: made, seconds: (performance.now() - t0) / 1000, cpuMsPerConn: (now.cpuMs - last.cpuMs) / made, loopP99Ms: now.loopP99Ms, loopMaxMs: now.loopMaxMs })
      last = now
    }
    const rampSeconds = (performance.now() - rampStart) / 1000
    if (config.profileDir !== undefined) await listener.call('profile-stop', { file: join(config.profileDir, `${setup.variant}-${n}-ramp.cpuprofile`) })
    const loaded = await listener.call('sample', { gc: true })
    progress(`  ${setup.variant} N=${n}: ${admitted} connections in ${rampSeconds.toFixed(1)} s`)
    // The listener's own background work with every connection open (libp2p's pings, timers).
    const idleFrom = await listener.call('sample', { gc: false })
    await sleep(2000)
    const idleTo = await listener.call('sample', { gc: false })
    const idleCpuMsPerSec = (idleTo.cpuMs - idleFrom.cpuMs) / 2
    const epochs: EpochResult[] = []
    if (setup.variant === 'fedgate') {
      const fed = scaleFederation(setup)
      for (let e = 0; e < config.epochs; e++) {
        const roster = nextEpoch(fed, e)
        const profiling = config.profileDir !== undefined && e === 0
        if (profiling) await listener.call('profile-start')
        const before = await listener.call('sample', { gc: false })
        const t0 = performance.now()
        const { at } = await listener.call('epoch', { text: roster.encode() })
        const held: EpochHeld[] = await Promise.all(pools.map(async pool => pool.call('await-epoch', { epoch: roster.epoch, timeoutMs: config.epochTimeoutMs })))
        const after: ListenerSample = await listener.call('sample', { gc: false })
        const seconds = (performance.now() - t0) / 1000
        if (profiling) await listener.call('profile-stop', { file: join(config.profileDir ?? '', `${setup.variant}-${n}-epoch.cpuprofile`) })
        const lastAt = Math.max(...held.map(h => h.lastAt).filter(Number.isFinite))
        epochs.push({
          cpuMs: Math.max(0, after.cpuMs - before.cpuMs - idleCpuMsPerSec * seconds),
          loopP99Ms: after.loopP99Ms,
          loopMaxMs: after.loopMaxMs,
          lastPeerMs: lastAt - at,
          missing: held.reduce((sum, h) => sum + h.missing, 0)
        })
        progress(`  ${setup.variant} N=${n}: epoch ${roster.epoch} on every peer after ${Math.round(lastAt - at)} ms`)
        // Let the announcements settle before the next epoch.
        await sleep(500)
      }
    }
    const pulls: Record<string, number> = {}
    for (const pool of pools) for (const [result, count] of Object.entries(await pool.call('pulls'))) pulls[result] = (pulls[result] ?? 0) + count
    await Promise.all(pools.map(async pool => pool.call('disconnect')))
    let closed = await listener.call('sample', { gc: true })
    for (let i = 0; i < 100 && closed.connections > 0; i++) {
      await sleep(100)
      closed = await listener.call('sample', { gc: true })
    }
    return {
      variant: setup.variant,
      connections: n,
      admitted,
      failed: n - admitted,
      errors: [...errors],
      processes,
      heapPerConnBytes: (loaded.heapUsedBytes - baseline.heapUsedBytes) / Math.max(1, loaded.connections),
      heapAfterCloseBytes: closed.heapUsedBytes - baseline.heapUsedBytes,
      listenerRssBytes: loaded.rssBytes,
      dialerHeapBytes: pools.reduce((sum, p) => sum + p.ready.heapUsedBytes, 0),
      connPerSec: admitted / rampSeconds,
      quarters,
      idleCpuMsPerSec,
      idleLoopP99Ms: idleTo.loopP99Ms,
      idleLoopMaxMs: idleTo.loopMaxMs,
      epochs,
      pulls
    }
  } finally {
    await Promise.all([listener, ...pools].map(async agent => agent.stop().catch(() => agent.kill())))
  }
}
