import type { Connection } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'
import { widenedProtocols } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import type { RosterUpdate } from '../roster-source.ts'
import type { GateLog } from '../telemetry.ts'
import type { FederationEvents } from '../types.ts'
import type { Admitted, AdmittedConnection } from './admitted.ts'

/** Re-announces a connection to the node's services, e.g. by running identify on it again. */
export type Rejoin = (connection: Connection) => Promise<unknown>

export interface WidenedPeersInit {
  readonly admitted: Admitted
  readonly events: TypedEventTarget<FederationEvents>
  readonly log: GateLog
  readonly localRoles: () => readonly string[]
  /** The protocols this node's libp2p handles now (the services that may rejoin). */
  readonly registered: () => readonly string[]
  readonly internalProtocols: ReadonlySet<string>
  /** What to do on each widened peer's connection, or undefined to only dispatch the event. */
  readonly rejoin: () => Rejoin | undefined
}

/**
 * When a roster epoch gives back protocols on existing connections (to the peer's roles, or to this
 * node's own), services such as gossipsub do not notice by themselves: they re-add a peer only
 * after identify or a new connection. This dispatches `protocols-widened` per peer and, by default,
 * re-runs identify on its connection, so the registrar tells those services the peer is back.
 */
export class WidenedPeers {
  private readonly init: WidenedPeersInit

  constructor (init: WidenedPeersInit) {
    this.init = init
  }

  rosterChanged (update: RosterUpdate): void {
    const { previous, current } = update
    if (previous === null) return
    const { admitted, events, log, localRoles, registered, internalProtocols, rejoin } = this.init
    const protocols = registered().filter(p => !internalProtocols.has(p))
    const ours = widenedProtocols(previous.policy, current.policy, protocols, localRoles())
    const byPeer = new Map<string, AdmittedConnection>()
    for (const entry of admitted.all()) {
      if (entry.closing !== undefined || entry.connection.status !== 'open') continue
      const held = byPeer.get(entry.peer.peerId)
      if (held === undefined || entry.peer.since < held.peer.since) byPeer.set(entry.peer.peerId, entry)
    }
    const run = rejoin()
    for (const { peer, connection } of byPeer.values()) {
      const widened = [...new Set([...ours, ...widenedProtocols(previous.policy, current.policy, protocols, peer.roles)])].sort()
      if (widened.length === 0) continue
      logEvent(log, 'info', 'protocols-widened', { peerId: peer.peerId, memberId: peer.memberId, epoch: current.epoch, protocols: widened, rejoin: run !== undefined }, `epoch ${current.epoch} gives ${peer.memberId} back ${widened.join(', ')}`)
      events.safeDispatchEvent('protocols-widened', { detail: { peerId: peer.peerId, memberId: peer.memberId, epoch: current.epoch, protocols: widened } })
      run?.(connection).catch(() => {
        // The peer may be leaving, or not allowed identify under this epoch: the event stands.
      })
    }
  }
}
