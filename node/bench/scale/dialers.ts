import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CredentialVerifier } from '../../../membership/index.ts'
import { FederationGate } from '../../gate/node-gate.ts'
import { silentLog } from '../../log.ts'
import { MemoryRosterStore } from '../../memory-roster-store.ts'
import { FedgateMetrics } from '../../metrics.ts'
import { nodeNoiseCrypto } from '../../net/noise-crypto.ts'
import { RosterSync } from '../../sync/roster-sync.ts'
import { withFederation } from '../../with-federation.ts'
import { serveAgent } from '../agent.ts'
import { dialerMemberOf, dialerNodeName, IDLE_PROTOCOL, scaleFederation, type ScaleSetup } from './setup.ts'

/** One dialer node: its libp2p node, and (fedgate) its gate, which holds its roster. */
interface Dialer {
  readonly libp2p: Libp2p
  readonly gate: FederationGate<MemoryRosterStore> | undefined
  /** When (ms since the epoch) this node put each roster epoch in force. */
  readonly epochAt: Map<number, number>
  stream?: Stream
}

export interface DialersReady {
  readonly pid: number
  readonly nodes: number
  /** Heap and RSS once every node is up, before any connection. */
  readonly heapUsedBytes: number
  readonly rssBytes: number
  /** How long creating the nodes took (ms). */
  readonly setupMs: number
}

export interface ConnectResult {
  readonly ok: number
  readonly failed: number
  /** A few distinct error messages, when some failed. */
  readonly errors: readonly string[]
}

export interface EpochHeld {
  /** Nodes holding the epoch (or a later one). */
  readonly held: number
  readonly missing: number
  /** When the last of them put it in force (ms since the epoch); NaN when none did here. */
  readonly lastAt: number
}

export type DialersOps = {
  /** Connects nodes [from, to) (this process's indexes), each with one idle stream, `concurrency` at a time. */
  connect: (arg: { from: number, to: number, target: string, concurrency: number }) => Promise<ConnectResult>
  /** Resolves once every node holds `epoch`, or after `timeoutMs`. */
  'await-epoch': (arg: { epoch: number, timeoutMs: number }) => Promise<EpochHeld>
  /** Roster epochs fetched from the listener, by result (fedgate_roster_sync_pulls_total). */
  pulls: () => Promise<Record<string, number>>
  /** Closes every node's connection. */
  disconnect: () => Promise<void>
}

/** A pool of dialer nodes in one process: `count` nodes from index `first` of the run. */
async function main (): Promise<void> {
  const setup = JSON.parse(process.argv[2] ?? '') as ScaleSetup
  const first = Number(process.argv[3])
  const count = Number(process.argv[4])
  const fed = scaleFederation(setup)
  const genesis = fed.roster
  // Shared by every node of this process: the cache of good credential signatures, and the counters.
  const verifier = new CredentialVerifier()
  const metrics = new FedgateMetrics()
  const log = silentLog()
  const t0 = performance.now()
  const dialers: Dialer[] = []
  for (let i = first; i < first + count; i++) {
    const nodeKey = await fed.nodeKey(dialerNodeName(i))
    const epochAt = new Map<number, number>()
    if (setup.variant === 'fedgate') {
      const store = MemoryRosterStore.from([genesis])
      const gate = new FederationGate({
        nodeKey,
        credential: await fed.issue({ member: dialerMemberOf(i), node: dialerNodeName(i) }),
        store,
        log,
        metrics,
        verifier,
        bans: false,
        peers: false,
        sync: new RosterSync(store, log, { metrics })
      })
      gate.addEventListener('roster', e => { epochAt.set(e.detail.epoch, Date.now()) })
      const libp2p = await createLibp2p({ ...withFederation(gate), transports: [tcp()], streamMuxers: [yamux()] })
      dialers.push({ libp2p, gate, epochAt })
    } else {
      const libp2p = await createLibp2p({ privateKey: nodeKey.privateKey, transports: [tcp()], streamMuxers: [yamux()], connectionEncrypters: [noise({ crypto: nodeNoiseCrypto })] })
      dialers.push({ libp2p, gate: undefined, epochAt })
    }
  }
  const setupMs = performance.now() - t0
  globalThis.gc?.()
  const memory = process.memoryUsage()

  const ops = {
    async connect ({ from, to, target, concurrency }) {
      const addr = multiaddr(target)
      let next = from
      let ok = 0
      const errors = new Set<string>()
      const worker = async (): Promise<void> => {
        while (next < to) {
          const dialer = dialers[next++]
          if (dialer === undefined) break
          try {
            const connection = await dialer.libp2p.dial(addr)
            dialer.stream = await connection.newStream(IDLE_PROTOCOL)
            ok++
          } catch (err) {
            errors.add(err instanceof Error ? `${err.name}: ${err.message}` : String(err))
          }
        }
      }
      await Promise.all(Array.from({ length: concurrency }, worker))
      return { ok, failed: to - from - ok, errors: [...errors].slice(0, 3) }
    },
    async 'await-epoch' ({ epoch, timeoutMs }) {
      const deadline = Date.now() + timeoutMs
      const holding = (): Dialer[] => dialers.filter(d => (d.gate?.roster.epoch ?? 0) >= epoch)
      while (holding().length < dialers.length && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 25))
      const held = holding()
      const times = held.map(d => d.epochAt.get(epoch) ?? Number.NaN).filter(Number.isFinite)
      return { held: held.length, missing: dialers.length - held.length, lastAt: times.length === 0 ? Number.NaN : Math.max(...times) }
    },
    async pulls () {
      const metric = await metrics.rosterSyncPulls.get()
      return Object.fromEntries(metric.values.map(v => [String(v.labels.result), v.value]))
    },
    async disconnect () {
      await Promise.all(dialers.map(async d => {
        d.stream = undefined
        await Promise.all(d.libp2p.getConnections().map(async c => c.close()))
      }))
    },
    async stop () {
      await Promise.all(dialers.map(async d => d.libp2p.stop()))
    }
  } satisfies DialersOps & { stop: () => Promise<void> }
  serveAgent(ops, { pid: process.pid, nodes: dialers.length, heapUsedBytes: memory.heapUsed, rssBytes: memory.rss, setupMs } satisfies DialersReady)
}

await main()
