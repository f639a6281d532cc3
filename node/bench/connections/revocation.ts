import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { revoke } from '../../../membership/index.ts'
import type { FederationNode } from '../../federation-node.ts'
import { benchFederation, benchNode, ownRoster, sharedStore, tcpAddr } from '../federation.ts'
import { distribution, type Distribution } from '../stats.ts'
import { renameOver } from '../temp-dir.ts'

export const REVOCATION_TARGET_P99_MS = 1_000
/** A revocation repetition fails when a connection is still open this long after the rename. */
export const REVOCATION_GIVE_UP_MS = 10_000
/** Extra connection slots per victim member beyond the connections it opens. */
const SLOT_HEADROOM = 8

export interface RevocationConfig {
  /** Repetitions, each with a fresh member and fresh connections. */
  readonly reps: number
  /** Connections of the revoked member per repetition. */
  readonly victims: number
  /** Members whose one connection each must survive every epoch. */
  readonly keepers: number
  readonly libp2pMetrics: boolean
}

export interface RevocationResult {
  readonly reps: number
  readonly connectionsPerRep: number
  readonly keptConnections: number
  readonly dialer: { readonly all: Distribution, readonly lastClosed: Distribution }
  readonly listener: { readonly all: Distribution, readonly lastClosed: Distribution }
  /** From the rename to the listener accepting the epoch (file watch, parse, signature check, store). */
  readonly rosterApplied: Distribution
  readonly missedCloses: number
  readonly keptClosed: number
  readonly targetP99Ms: number
  readonly pass: boolean
}

interface Watched {
  closedAt: number | undefined
  readonly closed: Promise<void>
}

function watchClose (connection: Connection): Watched {
  let resolveClosed = (): void => {}
  const watched: Watched = { closedAt: undefined, closed: new Promise<void>(resolve => { resolveClosed = resolve }) }
  connection.addEventListener('close', () => {
    watched.closedAt = performance.now()
    resolveClosed()
  }, { once: true })
  return watched
}

/** The listener's connections from `peers`, once it has admitted `count` of them (its side finishes after the dialer's). */
async function admittedOn (listener: FederationNode, peers: ReadonlySet<string>, count: number): Promise<Connection[]> {
  const deadline = performance.now() + REVOCATION_GIVE_UP_MS
  for (;;) {
    const admitted = new Set(listener.peers().map(p => p.peerId).filter(id => peers.has(id)))
    if (admitted.size >= count) return listener.libp2p.getConnections().filter(c => admitted.has(c.remotePeer.toString()))
    if (performance.now() > deadline) throw new Error(`listener admitted ${admitted.size} of ${count} connections`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/**
 * Revocation latency. A listener holds connections from many nodes of one member plus one from each
 * keeper member; a roster epoch revoking that member (signed 2 of 3) is renamed over the listener's
 * roster file, and each connection's time from the rename to its `close` event is recorded on both
 * sides. Repeated with a fresh member and fresh connections each time.
 */
export async function revocation (dir: string, config: RevocationConfig, progress: (line: string) => void): Promise<RevocationResult> {
  const victims = Array.from({ length: config.reps }, (_, r) => `victim-${r + 1}`)
  const keepers = Array.from({ length: config.keepers }, (_, k) => `keeper-${k + 1}`)
  const fed = benchFederation('rev-listener', [...victims, ...keepers], config.victims + SLOT_HEADROOM)
  const { libp2pMetrics } = config
  const own = await ownRoster(join(dir, 'listener'), fed.roster)
  const listener = await benchNode(fed, { member: 'rev-listener', roster: own, listen: true, libp2pMetrics })
  const store = await sharedStore(join(dir, 'dialers'), fed.roster)
  const target = tcpAddr(listener.getMultiaddrs())
  const keeperNodes: FederationNode[] = []
  const dialerSide: number[] = []
  const listenerSide: number[] = []
  const lastDialer: number[] = []
  const lastListener: number[] = []
  const applied: number[] = []
  let missedCloses = 0
  let keptClosed = 0
  try {
    for (const member of keepers) keeperNodes.push(await benchNode(fed, { member, roster: store, listen: false, libp2pMetrics }))
    const keptConnections = await Promise.all(keeperNodes.map(async n => await n.dial(target)))
    for (const [rep, victim] of victims.entries()) {
      const nodes = await Promise.all(Array.from({ length: config.victims }, async () => await benchNode(fed, { member: victim, roster: store, listen: false, libp2pMetrics })))
      try {
        const outbound = await Promise.all(nodes.map(async n => await n.dial(target)))
        const dialerWatch = outbound.map(watchClose)
        const inbound = await admittedOn(listener, new Set(nodes.map(n => n.peerId)), config.victims)
        const listenerWatch = inbound.map(watchClose)
        const next = fed.commit(fed.nextEpoch(r => revoke(r, { member: victim })))
        let appliedAt: number | undefined
        const onRoster = (evt: CustomEvent<{ epoch: number }>): void => { if (evt.detail.epoch === next.epoch) appliedAt = performance.now() }
        listener.gate.addEventListener('roster', onRoster)
        const renameStart = await renameOver(own.rosterFile, next.encode())
        const all = [...dialerWatch, ...listenerWatch]
        const giveUp = new Promise<void>(resolve => setTimeout(resolve, REVOCATION_GIVE_UP_MS).unref())
        await Promise.race([Promise.all(all.map(async w => { await w.closed })), giveUp])
        const collect = (watched: readonly Watched[], into: number[], last: number[]): void => {
          let latest = 0
          for (const w of watched) {
            if (w.closedAt === undefined) {
              missedCloses++
              continue
            }
            into.push(w.closedAt - renameStart)
            latest = Math.max(latest, w.closedAt - renameStart)
          }
          last.push(latest)
        }
        collect(dialerWatch, dialerSide, lastDialer)
        collect(listenerWatch, listenerSide, lastListener)
        listener.gate.removeEventListener('roster', onRoster)
        if (appliedAt !== undefined) applied.push(appliedAt - renameStart)
        keptClosed += keptConnections.filter(c => c.status !== 'open').length
        progress(`revocation ${rep + 1}/${config.reps}: last close ${lastDialer.at(-1)?.toFixed(1)} ms (dialer side), ${lastListener.at(-1)?.toFixed(1)} ms (listener side)`)
      } finally {
        await Promise.all(nodes.map(async n => { await n.stop() }))
      }
    }
    // The other members' connections must survive every epoch, on both ends.
    const keeperPeers = new Set(keeperNodes.map(n => n.peerId))
    const keptOnListener = listener.libp2p.getConnections().filter(c => keeperPeers.has(c.remotePeer.toString()) && c.status === 'open').length
    keptClosed += keptConnections.length - keptOnListener
  } finally {
    await Promise.all([listener, ...keeperNodes].map(async n => { await n.stop() }))
    await store.close()
  }
  const dialer = { all: distribution(dialerSide), lastClosed: distribution(lastDialer) }
  const listenerDist = { all: distribution(listenerSide), lastClosed: distribution(lastListener) }
  return {
    reps: config.reps,
    connectionsPerRep: config.victims,
    keptConnections: config.keepers,
    dialer,
    listener: listenerDist,
    rosterApplied: distribution(applied),
    missedCloses,
    keptClosed,
    targetP99Ms: REVOCATION_TARGET_P99_MS,
    pass: missedCloses === 0 && keptClosed === 0 && dialer.all.p99Ms <= REVOCATION_TARGET_P99_MS && listenerDist.all.p99Ms <= REVOCATION_TARGET_P99_MS
  }
}
