import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Multiaddr } from '@multiformats/multiaddr'
import { setMaxListeners } from 'main-event'
import type { NodeKeyType, Roster } from '../../membership/index.ts'
import { createFederationBuilder, writeRosterFile, type FederationBuilder } from '../builder/index.ts'
import { createFederationNode, type FederationNode } from '../federation-node.ts'
import { RosterStore } from '../files/roster-store.ts'

export const BENCH_FEDERATION = 'bench-fed'
/** The protocol every benchmark op opens: one length-prefixed message, echoed. */
export const ECHO_PROTOCOL = '/bench/echo/1.0.0'
/** Per-IP throttles off: every benchmark peer dials from 127.0.0.1. */
export const LOAD_INBOUND_PER_IP_PER_SECOND = 1_000_000
export const LOAD_MAX_PENDING_CONNECTIONS = 1024
/** Roster limits raised for a loopback load test. */
export const LOAD_LIMITS = { maxConnectionsPerMember: 1024, maxInboundConnections: 4096, maxOutboundConnections: 1024, maxPendingHandshakes: 1024 } as const

/**
 * A benchmark federation: a listener member (validator) and dialer members (full-node), each allowed
 * `maxConnections`, the echo protocol open to both roles, and limits raised for load.
 */
export function benchFederation (listenerMember: string, dialerMembers: readonly string[], maxConnections: number): FederationBuilder {
  return createFederationBuilder({
    federation: BENCH_FEDERATION,
    members: [
      { id: listenerMember, roles: ['validator'], maxConnections },
      ...dialerMembers.map(id => ({ id, roles: ['full-node'], maxConnections }))
    ],
    protocols: { [ECHO_PROTOCOL]: ['validator', 'full-node'] },
    policy: { limits: LOAD_LIMITS }
  })
}

/** Where a node keeps its roster: its own watched file, or a store it shares. */
export type BenchRoster = RosterStore | { readonly dataDir: string, readonly rosterFile: string }

export interface BenchNodeOptions {
  readonly member: string
  readonly roster: BenchRoster
  readonly listen: boolean
  /** Include libp2p's own metrics (fedgate's are always on). */
  readonly libp2pMetrics: boolean
  /** @default Ed25519 */
  readonly keyType?: NodeKeyType
  /** The roster-driven peer manager; off when the benchmark lays out its own topology. @default on */
  readonly peers?: false
}

let nodeCount = 0

/** A fedgate node of `member` with a fresh node key and a credential for it. */
export async function benchNode (fed: FederationBuilder, opts: BenchNodeOptions): Promise<FederationNode> {
  const name = `${opts.member} node ${++nodeCount}`
  return await createFederationNode({
    key: await fed.nodeKey(name, opts.keyType),
    credential: await fed.issue({ member: opts.member, node: name, nodeKeyType: opts.keyType }),
    roster: opts.roster,
    listen: opts.listen ? ['/ip4/127.0.0.1/tcp/0'] : [],
    bans: false,
    ...(opts.peers === false ? { peers: false as const } : {}),
    libp2pMetrics: opts.libp2pMetrics,
    inboundConnectionThreshold: LOAD_INBOUND_PER_IP_PER_SECOND,
    libp2p: { connectionManager: { maxIncomingPendingConnections: LOAD_MAX_PENDING_CONNECTIONS } }
  })
}

/** A node's own roster file in `dir`, holding `roster`, and its data directory. */
export async function ownRoster (dir: string, roster: Roster): Promise<{ dataDir: string, rosterFile: string }> {
  await mkdir(dir, { recursive: true })
  const rosterFile = join(dir, 'roster.json')
  await writeRosterFile(rosterFile, roster)
  return { dataDir: join(dir, 'data'), rosterFile }
}

/** A store many dialer nodes share: it never watches its file, so only the listener's roster moves. */
export async function sharedStore (dir: string, roster: Roster): Promise<RosterStore> {
  const store = new RosterStore(await ownRoster(dir, roster))
  await store.open()
  setMaxListeners(Infinity, store)
  return store
}

/** The first TCP listen address. */
export function tcpAddr (addrs: readonly Multiaddr[]): Multiaddr {
  const addr = addrs.find(a => a.toString().includes('/tcp/'))
  if (addr === undefined) throw new Error('listener has no TCP address')
  return addr
}
