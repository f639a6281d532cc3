import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { parseArgs } from 'node:util'

/** One refused connection attempt may take this long before the flooder gives up on it. */
const ATTEMPT_TIMEOUT_MS = 10_000
const PROGRESS_INTERVAL_MS = 200
/** A protocol every libp2p node serves: a Sybil that may open it was let in. */
const PING_PROTOCOL = '/ipfs/ping/1.0.0'

/** What a flooder reports on stdout, one JSON document a line. */
export type FloodReport = { readonly event: 'started', readonly identities: number } | ({ readonly event: 'progress' | 'done' } & FloodCounts)

/** A flood's counts so far: attempts made, refused and (never, if the node holds) admitted. */
export interface FloodCounts {
  readonly attempts: number
  readonly refused: number
  readonly admitted: number
  readonly elapsedMs: number
  /** Refused attempts by the error the dialer saw. */
  readonly errors: Readonly<Record<string, number>>
}

/**
 * A Sybil flood, run as its own process inside a lab host: `identities` stock libp2p nodes (each
 * its own fresh key, plain Noise, no credential) dial `target` over and over, concurrently, until
 * `durationMs` has passed, `maxAttempts` attempts were made, or SIGTERM. Every attempt should be
 * refused; one that is not is counted as admitted and closed.
 */
export async function runFlooder (argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      target: { type: 'string' },
      identities: { type: 'string', default: '32' },
      'duration-ms': { type: 'string', default: '30000' },
      'max-attempts': { type: 'string', default: '1000000' }
    }
  })
  if (values.target === undefined) throw new Error('--target MULTIADDR is required (the victim, with /p2p/PEERID)')
  const target = multiaddr(values.target)
  const identities = Number(values.identities)
  const deadline = Date.now() + Number(values['duration-ms'])
  const maxAttempts = Number(values['max-attempts'])
  const nodes: Libp2p[] = []
  for (let i = 0; i < identities; i++) {
    nodes.push(await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } }))
  }
  let stopping = false
  process.once('SIGTERM', () => { stopping = true })
  const started = Date.now()
  const counts = { attempts: 0, refused: 0, admitted: 0 }
  const errors: Record<string, number> = {}
  const report = (event: 'progress' | 'done'): void => {
    write({ event, ...counts, elapsedMs: Date.now() - started, errors })
  }
  write({ event: 'started', identities })
  const progress = setInterval(() => { report('progress') }, PROGRESS_INTERVAL_MS)
  const more = (): boolean => !stopping && Date.now() < deadline && counts.attempts < maxAttempts
  await Promise.all(nodes.map(async node => {
    while (more()) {
      counts.attempts++
      try {
        // A refused dialer may finish its side of Noise and see the connection cut only then: it is
        // admitted only if the node serves it a stream.
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
  }))
  clearInterval(progress)
  await Promise.all(nodes.map(async n => { await n.stop() }))
  report('done')
}

function write (report: FloodReport): void {
  process.stdout.write(JSON.stringify(report) + '\n')
}
