import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { ReasonCode } from '../../../membership/index.ts'
import type { FederationNode } from '../../federation-node.ts'
import { refusalOf } from '../../net/refusal.ts'
import type { AdmittedPeer } from '../../types.ts'
import { describeForwardPeer, type ForwardPeer } from './config.ts'

/** An admitted connection to the node a forward reaches. */
export interface Route {
  readonly connection: Connection
  readonly peer: AdmittedPeer
}

/** Why no route: the reason code and what was tried. */
export interface NoRoute {
  readonly reason: ReasonCode
  readonly detail: string
}

/**
 * Finds the admitted connection a forward's tunnels use: an open one to the member (or peer) if
 * there is one, else one dialled to the addresses the roster lists for it (or the multiaddr the
 * forward names). Tunnels opened at once share one dial.
 */
export class Routes {
  private readonly node: FederationNode
  private readonly dials = new Map<string, Promise<Route | NoRoute>>()

  constructor (node: FederationNode) {
    this.node = node
  }

  async find (to: ForwardPeer, signal: AbortSignal): Promise<Route | NoRoute> {
    const roster = this.node.roster
    if ('member' in to) {
      const member = roster.member(to.member)
      if (member === undefined) return { reason: 'unknown-member', detail: `the roster (epoch ${roster.epoch}) lists no member ${to.member}` }
      if (roster.revokedMembers.has(to.member)) return { reason: 'revoked', detail: `the roster (epoch ${roster.epoch}) revokes member ${to.member}` }
      const match = (peer: AdmittedPeer): boolean => peer.memberId === to.member
      return this.admitted(match) ?? await this.dialOnce(to, member.addrs ?? [], match, signal)
    }
    if ('peer' in to) {
      if (roster.revokedPeers.has(to.peer)) return { reason: 'revoked', detail: `the roster (epoch ${roster.epoch}) revokes peer ${to.peer}` }
      const match = (peer: AdmittedPeer): boolean => peer.peerId === to.peer
      const listed = [...roster.members.values()].flatMap(m => m.addrs ?? []).filter(a => a.endsWith(`/p2p/${to.peer}`))
      return this.admitted(match) ?? await this.dialOnce(to, listed, match, signal)
    }
    const peerId = multiaddr(to.addr).getComponents().find(c => c.name === 'p2p')?.value
    const match = (peer: AdmittedPeer): boolean => peerId === undefined || peer.peerId === peerId
    return (peerId === undefined ? undefined : this.admitted(match)) ?? await this.dialOnce(to, [to.addr], match, signal)
  }

  /** An open admitted connection whose peer matches, that fedgate is not closing. */
  private admitted (match: (peer: AdmittedPeer) => boolean): Route | undefined {
    for (const connection of this.node.libp2p.getConnections()) {
      if (connection.status !== 'open') continue
      const peer = this.node.gate.peerOf(connection)
      if (peer !== undefined && match(peer)) return { connection, peer }
    }
    return undefined
  }

  private async dialOnce (to: ForwardPeer, addrs: readonly string[], match: (peer: AdmittedPeer) => boolean, signal: AbortSignal): Promise<Route | NoRoute> {
    const key = describeForwardPeer(to)
    let dial = this.dials.get(key)
    if (dial === undefined) {
      dial = this.dial(to, addrs, match, signal).finally(() => { this.dials.delete(key) })
      this.dials.set(key, dial)
    }
    return await dial
  }

  /** Dials `addrs` in turn until one gives an admitted connection to a matching peer. */
  private async dial (to: ForwardPeer, addrs: readonly string[], match: (peer: AdmittedPeer) => boolean, signal: AbortSignal): Promise<Route | NoRoute> {
    if (addrs.length === 0) return { reason: 'no-reachable-node', detail: `no admitted connection to ${describeForwardPeer(to)}, and the roster lists no address for it` }
    const failures: string[] = []
    const refusals: ReasonCode[] = []
    for (const addr of addrs) {
      try {
        const connection = await this.node.libp2p.dial(multiaddr(addr), { signal })
        const peer = this.node.gate.peerOf(connection)
        if (peer !== undefined && match(peer)) return { connection, peer }
        failures.push(`${addr}: ${peer === undefined ? 'the connection closed at once' : `the node there is ${peer.memberId} (${peer.peerId})`}`)
      } catch (err) {
        const refusal = refusalOf(err)
        if (refusal !== undefined) refusals.push(refusal.code)
        failures.push(`${addr}: ${refusal === undefined ? firstLine(err) : `refused ${refusal.code} (decided by ${refusal.by === 'local' ? 'this node' : 'the peer'})`}`)
      }
      if (signal.aborted) break
    }
    // Every address refused for the same reason (say, the peer says this node is revoked): that is the reason.
    const [first] = refusals
    const reason: ReasonCode = first !== undefined && refusals.length === addrs.length && refusals.every(code => code === first) ? first : 'no-reachable-node'
    return { reason, detail: `no admitted connection to ${describeForwardPeer(to)}; ${failures.join('; ')}` }
  }
}

function firstLine (err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return text.split('\n')[0] ?? text
}
