import { mkdir } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeFile } from 'node:fs/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { Roster } from '../../../membership/index.ts'
import { writeRosterFile } from '../../builder/index.ts'
import { createFederationNode, type FederationNode } from '../../federation-node.ts'
import { nodeNoiseCrypto } from '../../net/noise-crypto.ts'
import { serveAgent } from '../agent.ts'
import { IDLE_PROTOCOL, LISTENER_MEMBER, LISTENER_NODE, scaleFederation, type ScaleSetup } from './setup.ts'

/** libp2p's per-IP inbound rate limit, off: every dialer dials from 127.0.0.1. */
const INBOUND_PER_IP_PER_SECOND = 1_000_000

/** What the listener reports about itself at one instant. */
export interface ListenerSample {
  /** User + system CPU time since it started (ms). */
  readonly cpuMs: number
  readonly heapUsedBytes: number
  readonly rssBytes: number
  /** Open connections (fedgate: admitted peers). */
  readonly connections: number
  /** The event loop's delay since the last sample (ms): how long ready work waited. */
  readonly loopP99Ms: number
  readonly loopMaxMs: number
}

export interface ListenerReady {
  readonly addr: string
  readonly pid: number
}

export type ListenerOps = {
  /** CPU, memory (after a full GC when `gc`), connections, and the event loop since the last sample. */
  sample: (arg: { gc: boolean }) => Promise<ListenerSample>
  /** Puts a roster epoch in force, as `POST /roster` does; resolves with when (ms since the epoch), or throws its refusal. */
  epoch: (arg: { text: string }) => Promise<{ at: number }>
  'profile-start': () => Promise<void>
  'profile-stop': (arg: { file: string }) => Promise<void>
}

/** The listener of a scale run: a fedgate node (or bare libp2p with the same Noise crypto), one idle stream per connection. */
async function main (): Promise<void> {
  const setup = JSON.parse(process.argv[2] ?? '') as ScaleSetup
  const fed = scaleFederation(setup)
  const key = await fed.nodeKey(LISTENER_NODE)
  const limits = fed.roster.policy.limits
  const held = new Set<Stream>()
  const keep = (stream: Stream): void => {
    held.add(stream)
    stream.addEventListener('close', () => held.delete(stream))
  }
  let node: FederationNode | undefined
  let libp2p: Libp2p
  if (setup.variant === 'fedgate') {
    const dir = join(setup.dir, 'listener')
    await mkdir(dir, { recursive: true })
    const rosterFile = join(dir, 'roster.json')
    await writeRosterFile(rosterFile, fed.roster)
    node = await createFederationNode({
      key,
      credential: await fed.issue({ member: LISTENER_MEMBER, node: LISTENER_NODE }),
      roster: { dataDir: join(dir, 'data'), rosterFile },
      listen: ['/ip4/127.0.0.1/tcp/0'],
      libp2pMetrics: false,
      inboundConnectionThreshold: INBOUND_PER_IP_PER_SECOND
    })
    await node.handle(IDLE_PROTOCOL, keep)
    libp2p = node.libp2p
  } else {
    libp2p = await createLibp2p({
      privateKey: key.privateKey,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      streamMuxers: [yamux()],
      connectionEncrypters: [noise({ crypto: nodeNoiseCrypto })],
      // fedgate's connection-manager settings for the same roster limits.
      connectionManager: {
        inboundUpgradeTimeout: limits.handshakeTimeoutMs,
        maxIncomingPendingConnections: limits.maxPendingHandshakes * 2,
        maxConnections: limits.maxInboundConnections + limits.maxOutboundConnections,
        inboundConnectionThreshold: INBOUND_PER_IP_PER_SECOND
      }
    })
    await libp2p.handle(IDLE_PROTOCOL, keep)
  }
  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  let session: Session | undefined
  const ops = {
    async sample ({ gc }) {
      if (gc) {
        globalThis.gc?.()
        globalThis.gc?.()
      }
      const cpu = process.cpuUsage()
      const memory = process.memoryUsage()
      const sample = {
        cpuMs: (cpu.user + cpu.system) / 1000,
        heapUsedBytes: memory.heapUsed,
        rssBytes: memory.rss,
        connections: node?.peers().length ?? libp2p.getConnections().length,
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6
      }
      loop.reset()
      return sample
    },
    async epoch ({ text }) {
      if (node === undefined) throw new Error('bare libp2p has no roster')
      const at = Date.now()
      const refusal = await node.store.apply(Roster.fromJSON(JSON.parse(text)), 'bench')
      if (refusal !== null) throw new Error(`epoch refused: ${refusal.code} (${refusal.message})`)
      return { at }
    },
    async 'profile-start' () {
      session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    },
    async 'profile-stop' ({ file }) {
      if (session === undefined) throw new Error('no profile running')
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      session = undefined
      await writeFile(file, JSON.stringify(profile))
    },
    async stop () {
      loop.disable()
      await (node?.stop() ?? libp2p.stop())
    }
  } satisfies ListenerOps & { stop: () => Promise<void> }
  serveAgent(ops, { addr: libp2p.getMultiaddrs()[0]?.toString() ?? '', pid: process.pid } satisfies ListenerReady)
}

await main()
