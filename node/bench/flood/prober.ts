import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createFederationNode } from '../../federation-node.ts'

/** One admission may take this long before it counts as failed. */
const ADMISSION_TIMEOUT_MS = 15_000
/** How long a closed connection may take to be gone before the next dial starts anyway. */
const CLOSE_TIMEOUT_MS = 5_000
/** Admissions made first and not counted (the first ones pay for JIT compilation). */
const WARMUP = 2

/** What a prober prints on stdout when it is done: one JSON document. */
export interface ProbeReport {
  readonly latenciesMs: readonly number[]
  readonly failures: Readonly<Record<string, number>>
}

/**
 * A member's admission latency, run as its own process inside a lab host: a fedgate node (no peer
 * manager, so nothing but these dials connects) dials `target` `samples` times in a row, each
 * time timing the dial from its start until the connection is admitted on both sides and ready,
 * then closes the connection and waits until it is gone.
 */
export async function runProber (argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      key: { type: 'string' },
      credential: { type: 'string' },
      roster: { type: 'string' },
      'data-dir': { type: 'string' },
      target: { type: 'string' },
      samples: { type: 'string', default: '20' }
    }
  })
  const { key, credential, roster, target } = values
  const dataDir = values['data-dir']
  if (key === undefined || credential === undefined || roster === undefined || dataDir === undefined || target === undefined) {
    throw new Error('--key, --credential, --roster, --data-dir and --target are required')
  }
  const node = await createFederationNode({ key, credential, roster: { dataDir, rosterFile: roster }, peers: false, libp2pMetrics: false })
  const addr = multiaddr(target)
  const latenciesMs: number[] = []
  const failures: Record<string, number> = {}
  try {
    for (let i = 0; i < Number(values.samples) + WARMUP; i++) {
      const t0 = performance.now()
      try {
        const conn = await node.libp2p.dial(addr, { signal: AbortSignal.timeout(ADMISSION_TIMEOUT_MS) })
        if (i >= WARMUP) latenciesMs.push(performance.now() - t0)
        await conn.close()
      } catch (err) {
        const name = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown'
        failures[name] = (failures[name] ?? 0) + 1
      }
      const closing = Date.now() + CLOSE_TIMEOUT_MS
      while (node.libp2p.getConnections().length > 0 && Date.now() < closing) await new Promise(resolve => setTimeout(resolve, 5))
    }
  } finally {
    await node.stop()
  }
  const report: ProbeReport = { latenciesMs, failures }
  process.stdout.write(JSON.stringify(report) + '\n')
}
