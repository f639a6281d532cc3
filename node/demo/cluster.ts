import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { loadDaemonConfig } from '../daemon/config.ts'
import { createFederationNode, type FederationNode } from '../federation-node.ts'
import { DEMO_PROTOCOLS, type DemoNodeFiles } from './federation.ts'

const WAIT_POLL_MS = 5
/** Bound on every wait; a wait that succeeds returns as soon as its condition holds. */
export const WAIT_TIMEOUT_MS = 10_000
const ECHO_MAX_BYTES = 1024

/** Thrown when the demo federation does not behave as fedgate promises (the demo then exits non-zero). */
export class DemoError extends Error {
  override readonly name = 'DemoError'
}

/** A running demo node: a real fedgate node started from its config file. */
export interface DemoNode {
  readonly name: string
  readonly files: DemoNodeFiles
  readonly node: FederationNode
  /** Handler calls per chain protocol: a protocol the roster denies never reaches its handler. */
  readonly handled: Map<string, number>
  /** PeerIds whose connections libp2p opened on this node, whether or not fedgate kept them. */
  readonly opened: string[]
}

/**
 * Starts a fedgate node in this process from its config file, exactly as `fedgate node start
 * --config` reads it (key, credential, roster file, data directory, listen addresses), and
 * registers an echo handler on every chain protocol that counts its calls.
 */
export async function startDemoNode (files: DemoNodeFiles): Promise<DemoNode> {
  const config = await loadDaemonConfig({ config: files.config })
  const lag = files.clockLagMs
  const node = await createFederationNode({
    key: config.key,
    credential: config.credential,
    roster: { dataDir: config.dataDir, rosterFile: config.roster },
    listen: [...config.listen],
    libp2pMetrics: false,
    // The demo dials step by step to narrate each admission; run by hand (fedgate node start), the
    // same nodes keep the peers the roster's topology names for their roles connected by themselves.
    peers: false,
    ...(lag > 0 ? { clock: () => Date.now() - lag } : {})
  })
  const handled = new Map<string, number>()
  const opened: string[] = []
  node.libp2p.addEventListener('connection:open', evt => { opened.push(evt.detail.remotePeer.toString()) })
  for (const [protocol] of DEMO_PROTOCOLS) {
    handled.set(protocol, 0)
    await node.handle(protocol, async stream => {
      handled.set(protocol, (handled.get(protocol) ?? 0) + 1)
      const lp = lpStream(stream, { maxDataLength: ECHO_MAX_BYTES })
      await lp.write((await lp.read()).subarray())
      await stream.close()
    })
  }
  return { name: files.name, files, node, handled, opened }
}

/** A stock libp2p node (TCP, Noise, yamux): what an attacker without fedgate runs. */
export async function startIntruder (): Promise<Libp2p> {
  return await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

/** Opens `protocol` from `from` to `addr` and round-trips one message; resolves with the echo. */
export async function echo (from: FederationNode, addr: string, protocol: string, message: Uint8Array): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(WAIT_TIMEOUT_MS)
  const stream = await from.libp2p.dialProtocol(multiaddr(addr), protocol, { signal })
  const lp = lpStream(stream, { maxDataLength: ECHO_MAX_BYTES })
  await lp.write(message, { signal })
  const reply = (await lp.read({ signal })).subarray()
  await stream.close({ signal })
  return reply
}

/** Waits until `condition` holds; throws DemoError naming `what` after WAIT_TIMEOUT_MS. */
export async function waitFor (what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + WAIT_TIMEOUT_MS
  while (!condition()) {
    if (performance.now() > deadline) throw new DemoError(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, WAIT_POLL_MS))
  }
}

/** True when `node` holds an admitted connection to `peerId`. */
export function admits (node: DemoNode, peerId: string): boolean {
  return node.node.peers().some(p => p.peerId === peerId)
}

/** Milliseconds since `start` (a performance.now() reading), to 0.1 ms. */
export function since (start: number): number {
  return Math.round((performance.now() - start) * 10) / 10
}
