import { revoke, type Roster } from '../../../membership/index.ts'
import { createFederationBuilder, FederationKeys, type FederationBuilder } from '../../builder/index.ts'

export const SCALE_FEDERATION = 'scale-fed'
/** The protocol of the one idle stream each connection holds open. */
export const IDLE_PROTOCOL = '/bench/idle/1.0.0'
export const LISTENER_MEMBER = 'hub'
export const LISTENER_NODE = 'hub node'
/**
 * Dialer nodes per dialer member (the member's `maxConnections`): a hub serving many light clients
 * and full nodes of few organisations. It keeps the roster (which every dialer holds and parses
 * once per epoch) small enough for thousands of dialers in a few processes.
 */
export const NODES_PER_MEMBER = 64
/** Members that hold no connection; each roster epoch of the benchmark revokes one. */
export const SPARE_MEMBERS = 8

export type ScaleVariant = 'fedgate' | 'bare'

/** What every process of one benchmark run agrees on: the federation follows from it. */
export interface ScaleSetup {
  readonly variant: ScaleVariant
  /** Seeds every key, so each process derives the same ones. */
  readonly seed: string
  /** The genesis roster's issuedAt. */
  readonly now: number
  /** Dialer nodes (and so connections) in this run. */
  readonly connections: number
  /** A temp directory the run may write into. */
  readonly dir: string
}

export function dialerMemberOf (i: number): string {
  return `dialers-${Math.floor(i / NODES_PER_MEMBER)}`
}

export function dialerNodeName (i: number): string {
  return `dialer node ${i}`
}

/**
 * The run's federation: the listener (a validator), the dialer members (full nodes), the spares,
 * the idle protocol open to both roles, and limits raised for a load test from one IP address.
 */
export function scaleFederation (setup: ScaleSetup): FederationBuilder {
  const dialerMembers = Math.ceil(setup.connections / NODES_PER_MEMBER)
  return createFederationBuilder({
    federation: SCALE_FEDERATION,
    keys: new FederationKeys({ seed: setup.seed }),
    now: setup.now,
    members: [
      { id: LISTENER_MEMBER, roles: ['validator'] },
      ...Array.from({ length: dialerMembers }, (_, m) => ({ id: dialerMemberOf(m * NODES_PER_MEMBER), roles: ['full-node'], maxConnections: NODES_PER_MEMBER })),
      ...Array.from({ length: SPARE_MEMBERS }, (_, s) => ({ id: `spare-${s}`, roles: ['full-node'] }))
    ],
    protocols: { [IDLE_PROTOCOL]: ['validator', 'full-node'] },
    policy: {
      limits: {
        maxConnectionsPerMember: NODES_PER_MEMBER,
        maxInboundConnections: Math.max(256, setup.connections + 64),
        maxOutboundConnections: 64,
        maxPendingHandshakes: 1024,
        maxPendingHandshakesPerIp: 1024,
        handshakeTimeout: '60s',
        firstBytesTimeout: '60s'
      }
    }
  })
}

/** The benchmark's `round`-th roster epoch (0 ≤ round < SPARE_MEMBERS): it revokes one spare member. */
export function nextEpoch (fed: FederationBuilder, round: number): Roster {
  return fed.commit(fed.nextEpoch(r => revoke(r, { member: `spare-${round}` })))
}
