import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { revoke } from '../../../membership/index.ts'
import { createFederationBuilder, FederationKeys } from '../../builder/index.ts'
import type { FederationNode } from '../../federation-node.ts'
import { benchNode, LOAD_LIMITS, ownRoster, tcpAddr } from '../federation.ts'
import { distribution, median, type Distribution } from '../stats.ts'
import { renameOver } from '../temp-dir.ts'

export type Topology = 'line' | 'mesh'

export interface PropagationConfig {
  /** Revocations per federation, each of a fresh member. */
  readonly reps: number
  /** A repetition fails when a connection of the revoked member is still open this long after the write. */
  readonly giveUpMs: number
}

export interface PropagationResult {
  readonly topology: Topology
  readonly nodes: number
  readonly links: number
  /** Hops from the node given the epoch to the farthest node. */
  readonly hops: number
  /** From the rename over the first node's roster file to the revoked member's last connection closing anywhere. */
  readonly lastClosed: Distribution
  /** (lastClosed - local) / hops, per repetition: what each hop of roster sync adds. */
  readonly perHop: Distribution
  /** The first node's own part: from the rename to its connection with the revoked member closing. */
  readonly local: Distribution
  /** Median time to close, by hop distance from the first node (index = hops). */
  readonly byHop: number[]
  readonly missed: number
}

/** Each node's connection with `peer`, once every node has admitted it. */
async function admittedBy (nodes: readonly FederationNode[], peer: FederationNode, giveUpMs: number): Promise<Connection[]> {
  const deadline = performance.now() + giveUpMs
  for (;;) {
    const sides = nodes.map(node => node.peers().some(p => p.peerId === peer.peerId) ? node.libp2p.getConnections(peer.libp2p.peerId)[0] : undefined)
    if (sides.every(c => c !== undefined)) return sides
    if (performance.now() > deadline) throw new Error(`${sides.filter(c => c === undefined).length} of ${nodes.length} nodes did not admit ${peer.peerId}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** A deterministic pseudo-random sequence, so that a mesh is the same in every run. */
function seeded (seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

/**
 * The links between `n` nodes, as pairs [dialer, listener]: a line, or a random mesh of degree 4
 * (a ring, so the mesh is connected, plus one random chord dialled by each node).
 */
export function links (topology: Topology, n: number, seed = n): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i + 1 < n; i++) out.push([i, i + 1])
  if (topology === 'line') return out
  if (n > 2) out.push([n - 1, 0])
  const key = (a: number, b: number): string => a < b ? `${a}-${b}` : `${b}-${a}`
  const taken = new Set(out.map(([a, b]) => key(a, b)))
  const random = seeded(seed)
  for (let i = 0; i < n; i++) {
    for (let tries = 0; tries < 32; tries++) {
      const j = Math.floor(random() * n)
      if (j === i || taken.has(key(i, j))) continue
      taken.add(key(i, j))
      out.push([i, j])
      break
    }
  }
  return out
}

/** Hop distance from node 0 to every node (breadth-first over `edges`). */
export function hopsFrom (n: number, edges: ReadonlyArray<readonly [number, number]>): number[] {
  const next = Array.from({ length: n }, () => [] as number[])
  for (const [a, b] of edges) {
    next[a]?.push(b)
    next[b]?.push(a)
  }
  const hops = Array.from({ length: n }, () => Number.POSITIVE_INFINITY)
  hops[0] = 0
  const queue = [0]
  for (let head = 0; head < queue.length; head++) {
    const at = queue[head] ?? 0
    for (const to of next[at] ?? []) {
      if (hops[to] !== Number.POSITIVE_INFINITY) continue
      hops[to] = (hops[at] ?? 0) + 1
      queue.push(to)
    }
  }
  return hops
}

/**
 * Revocation across a federation: `n` fedgate nodes (one member each, each with its own roster file
 * and data directory, all in this process), linked as `topology`, with roster sync on and the
 * roster-driven peer manager off (the benchmark lays out the links). Each repetition starts a node
 * of a fresh member that connects to every node, writes an epoch revoking that member to node 0's
 * roster file only, and times each of the member's connections closing; the epoch reaches the
 * others through roster sync.
 */
export async function propagation (dir: string, topology: Topology, n: number, config: PropagationConfig, progress: (line: string) => void): Promise<PropagationResult> {
  const members = Array.from({ length: n }, (_, i) => `val-${i + 1}`)
  const victims = Array.from({ length: config.reps }, (_, r) => `revoked-${r + 1}`)
  const fed = createFederationBuilder({
    federation: 'bench-fed',
    keys: new FederationKeys({ seed: `propagation ${topology} ${n}` }),
    members: [...members, ...victims].map(id => ({ id, roles: ['validator'], maxConnections: n + 8 })),
    protocols: {},
    policy: { limits: LOAD_LIMITS }
  })
  const files = await Promise.all(members.map(async (m, i) => ownRoster(join(dir, `node-${i}`), fed.roster)))
  const nodes: FederationNode[] = []
  try {
    for (const [i, member] of members.entries()) {
      nodes.push(await benchNode(fed, { member, roster: files[i] ?? await ownRoster(join(dir, `node-${i}`), fed.roster), listen: true, libp2pMetrics: false, peers: false }))
    }
    const edges = links(topology, n)
    await Promise.all(edges.map(async ([a, b]) => {
      const to = nodes[b]
      if (to !== undefined) await nodes[a]?.dial(tcpAddr(to.getMultiaddrs()))
    }))
    const hops = hopsFrom(n, edges)
    const eccentricity = Math.max(...hops)
    const lastClosed: number[] = []
    const perHop: number[] = []
    const local: number[] = []
    const atHop: number[][] = Array.from({ length: eccentricity + 1 }, () => [])
    let missed = 0
    for (const victim of victims) {
      const revoked = await benchNode(fed, { member: victim, roster: await ownRoster(join(dir, victim), fed.roster), listen: false, libp2pMetrics: false, peers: false })
      try {
        await Promise.all(nodes.map(async node => await revoked.dial(tcpAddr(node.getMultiaddrs()))))
        // Each node's side of its connection with the revoked member (a listener admits after the dialer).
        const sides = await admittedBy(nodes, revoked, config.giveUpMs)
        const closedAt: Array<number | undefined> = nodes.map(() => undefined)
        const closed = Promise.all(sides.map(async (c, i) => await new Promise<void>(resolve => {
          c.addEventListener('close', () => { closedAt[i] = performance.now(); resolve() }, { once: true })
        })))
        const next = fed.commit(fed.nextEpoch(r => revoke(r, { member: victim })))
        const start = await renameOver(files[0]?.rosterFile ?? '', next.encode())
        let timer: NodeJS.Timeout | undefined
        await Promise.race([closed, new Promise<void>(resolve => { timer = setTimeout(resolve, config.giveUpMs) })])
        clearTimeout(timer)
        const times = closedAt.map(at => at === undefined ? Number.NaN : at - start)
        missed += times.filter(Number.isNaN).length
        const last = Math.max(...times.filter(Number.isFinite))
        lastClosed.push(last)
        local.push(times[0] ?? Number.NaN)
        perHop.push((last - (times[0] ?? 0)) / Math.max(1, eccentricity))
        for (const [i, t] of times.entries()) if (Number.isFinite(t)) atHop[hops[i] ?? 0]?.push(t)
        progress(`  ${topology} of ${n}: ${victim} revoked on node 0, last of ${n} connections closed after ${last.toFixed(0)} ms (${eccentricity} hops)`)
      } finally {
        await revoked.stop()
      }
    }
    return {
      topology,
      nodes: n,
      links: edges.length,
      hops: eccentricity,
      lastClosed: distribution(lastClosed),
      perHop: distribution(perHop),
      local: distribution(local),
      byHop: atHop.map(values => median(values)),
      missed
    }
  } finally {
    await Promise.all(nodes.map(async node => await node.stop()))
  }
}
