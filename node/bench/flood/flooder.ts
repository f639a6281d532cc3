import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { serveAgent } from '../agent.ts'

/** One refused connection attempt may take this long before the flooder gives up on it. */
const ATTEMPT_TIMEOUT_MS = 10_000
/** A protocol every libp2p node serves: a Sybil that may open it was let in. */
const PING_PROTOCOL = '/ipfs/ping/1.0.0'

/** A flood's counts so far: attempts made, refused and (never, if the node holds) admitted. */
export interface FloodCounts {
  readonly attempts: number
  readonly refused: number
  readonly admitted: number
  readonly elapsedMs: number
  /** Refused attempts by the error the dialer saw. */
  readonly errors: Readonly<Record<string, number>>
}

export interface FloodInit {
  /** The node to flood, with /p2p/PEERID. */
  readonly target: string
  /** The flood ends by itself after this long, or this many attempts. */
  readonly durationMs: number
  readonly maxAttempts: number
}

export type FlooderOps = {
  /** Starts the flood; resolves once its first attempts are under way. */
  flood: (init: FloodInit) => Promise<void>
  counts: () => Promise<FloodCounts>
  /** Ends the flood and resolves with its totals once the attempts in flight have ended. */
  end: () => Promise<FloodCounts>
}

/**
 * A Sybil flood, as a benchmark agent of its own (run it inside a lab host): `identities` stock
 * libp2p nodes (argv[2]; each its own fresh key, plain Noise, no credential) dial the target over
 * and over, concurrently. Every attempt should be refused; one the node serves a stream on is
 * counted as admitted.
 */
async function main (): Promise<void> {
  const identities = Number(process.argv[2])
  const nodes: Libp2p[] = []
  for (let i = 0; i < identities; i++) {
    nodes.push(await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } }))
  }
  const counts = { attempts: 0, refused: 0, admitted: 0 }
  const errors: Record<string, number> = {}
  let started = 0
  let ending = false
  let running: Promise<unknown> = Promise.resolve()
  const snapshot = (): FloodCounts => ({ ...counts, elapsedMs: started === 0 ? 0 : Date.now() - started, errors: { ...errors } })
  const attempt = async (node: Libp2p, target: ReturnType<typeof multiaddr>): Promise<void> => {
    counts.attempts++
    try {
      // A refused dialer may finish its side of Noise and see the connection cut only then.
      const conn = await node.dial(target, { signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) })
      const stream = await conn.newStream(PING_PROTOCOL, { signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) }).finally(() => { void conn.close().catch(() => {}) })
      stream.abort(new Error('flood'))
      counts.admitted++
    } catch (err) {
      counts.refused++
      const name = err instanceof Error ? err.name : 'unknown'
      errors[name] = (errors[name] ?? 0) + 1
    }
  }
  const ops = {
    async flood ({ target, durationMs, maxAttempts }: FloodInit) {
      const addr = multiaddr(target)
      started = Date.now()
      const deadline = started + durationMs
      const more = (): boolean => !ending && Date.now() < deadline && counts.attempts < maxAttempts
      running = Promise.all(nodes.map(async node => { while (more()) await attempt(node, addr) }))
      while (counts.attempts === 0) await new Promise(resolve => setTimeout(resolve, 5))
    },
    async counts () {
      return snapshot()
    },
    async end () {
      ending = true
      await running
      return snapshot()
    },
    async stop () {
      ending = true
      await running
      await Promise.all(nodes.map(async n => { await n.stop() }))
    }
  } satisfies FlooderOps & { stop: () => Promise<void> }
  serveAgent(ops, { identities })
}

await main()
