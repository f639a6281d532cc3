import { sha256, utf8, bytesToHex, type Member, type Roster } from '../../membership/index.ts'

/** A member this node keeps a connection to, and the roster addresses to reach it at. */
export interface Target {
  readonly memberId: string
  readonly org: string | undefined
  readonly addrs: readonly string[]
  /** The topology rule's peer role that made it a target. */
  readonly role: string
}

export interface TopologyInput {
  readonly roster: Roster
  /** This node's member and roles. */
  readonly memberId: string
  readonly roles: readonly string[]
  /** Members this node holds a connection to now: kept in preference to others. */
  readonly connected: ReadonlySet<string>
  /** Members that failed recently: chosen only when nothing else fills a rule. */
  readonly failing: ReadonlySet<string>
}

/**
 * The members this node must reach, derived from the roster's topology table and this node's
 * roles (see policy `topology`): every member of a role marked `all`, and for a count, that many
 * distinct members (of distinct organisations when asked), preferring those already connected,
 * then those not failing, then a per-node pseudo-random order so that nodes spread their choices.
 * Revoked members and this node's own member are never targets.
 */
export function targets (input: TopologyInput): Map<string, Target> {
  const { roster, memberId, roles } = input
  const out = new Map<string, Target>()
  for (const localRole of roles) {
    for (const rule of roster.policy.topology.get(localRole) ?? []) {
      const candidates = [...roster.members.values()].filter(m => m.id !== memberId && m.roles.includes(rule.role) && !roster.revokedMembers.has(m.id))
      if (rule.count === 'all') {
        for (const m of candidates) out.set(m.id, target(m, rule.role))
        continue
      }
      const chosen: Member[] = []
      const orgs = new Set<string>()
      const ordered = order(candidates, input)
      for (const m of ordered) {
        if (chosen.length >= rule.count) break
        if (rule.distinctOrgs && m.org !== undefined && orgs.has(m.org)) continue
        chosen.push(m)
        if (m.org !== undefined) orgs.add(m.org)
      }
      // Not enough distinct organisations: fill up with the rest rather than stay short.
      for (const m of ordered) {
        if (chosen.length >= rule.count) break
        if (!chosen.includes(m)) chosen.push(m)
      }
      for (const m of chosen) out.set(m.id, target(m, rule.role))
    }
  }
  return out
}

function target (m: Member, role: string): Target {
  return { memberId: m.id, org: m.org, addrs: m.addrs ?? [], role }
}

/** Connected first, then not failing, then a stable order of its own for each node. */
function order (candidates: readonly Member[], input: TopologyInput): Member[] {
  const keyed = candidates.map(m => ({
    m,
    score: (input.connected.has(m.id) ? 0 : 2) + (input.failing.has(m.id) ? 1 : 0),
    salt: bytesToHex(sha256(utf8(`${input.memberId}\u0000${m.id}`)))
  }))
  return keyed.sort((a, b) => a.score - b.score || (a.salt < b.salt ? -1 : 1)).map(k => k.m)
}
