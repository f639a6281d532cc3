import { multiaddr } from '@multiformats/multiaddr'
import { createFederationNode } from '../../federation-node.ts'
import { serveAgent } from '../agent.ts'

/** One admission may take this long before it counts as failed. */
const ADMISSION_TIMEOUT_MS = 15_000
/** How long a closed connection may take to be gone before the next dial starts anyway. */
const CLOSE_TIMEOUT_MS = 5_000

/** A run of admissions: the latency of each that succeeded, and the failures by error. */
export interface ProbeReport {
  readonly latenciesMs: readonly number[]
  readonly failures: Readonly<Record<string, number>>
}

export type ProberOps = {
  /** Dials `target` `samples` times in a row, timing each admission. */
  probe: (arg: { target: string, samples: number }) => Promise<ProbeReport>
}

/**
 * A member measuring its admission latency, as a benchmark agent of its own (run it inside a lab
 * host): a fedgate node (argv: key, credential and roster files, data dir; no peer manager, so
 * nothing but these dials connects) that on request dials the target again and again, each time
 * timing the dial from its start until the connection is admitted on both sides and ready, then
 * closing it and waiting until it is gone.
 */
async function main (): Promise<void> {
  const [key, credential, rosterFile, dataDir] = process.argv.slice(2)
  if (key === undefined || credential === undefined || rosterFile === undefined || dataDir === undefined) {
    throw new Error('usage: prober.ts KEY CREDENTIAL ROSTER DATA_DIR')
  }
  const node = await createFederationNode({ key, credential, roster: { dataDir, rosterFile }, peers: false, libp2pMetrics: false })
  const ops = {
    async probe ({ target, samples }: { target: string, samples: number }) {
      const addr = multiaddr(target)
      const latenciesMs: number[] = []
      const failures: Record<string, number> = {}
      for (let i = 0; i < samples; i++) {
        const t0 = performance.now()
        try {
          const conn = await node.libp2p.dial(addr, { signal: AbortSignal.timeout(ADMISSION_TIMEOUT_MS) })
          latenciesMs.push(performance.now() - t0)
          await conn.close()
        } catch (err) {
          const name = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown'
          failures[name] = (failures[name] ?? 0) + 1
        }
        const closing = Date.now() + CLOSE_TIMEOUT_MS
        while (node.libp2p.getConnections().length > 0 && Date.now() < closing) await new Promise(resolve => setTimeout(resolve, 5))
      }
      return { latenciesMs, failures } satisfies ProbeReport
    },
    async stop () {
      await node.stop()
    }
  } satisfies ProberOps & { stop: () => Promise<void> }
  serveAgent(ops, { peerId: node.peerId })
}

await main()
