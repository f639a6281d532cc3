import { MalformedError } from './errors.ts'
import { arr, fields, int, obj, type JsonObject } from './validate.ts'

/**
 * Whom a node keeps connections to, by its own role: for each local role, the peer roles it must
 * reach. `count: "all"` keeps every member of that role; a number keeps at least that many distinct
 * members, of distinct organisations when `distinctOrgs` is set.
 */
export interface TopologyRule {
  readonly role: string
  readonly count: number | 'all'
  readonly distinctOrgs: boolean
}

/** The default topology table: validators form a full mesh, the others reach a few of a role. */
export const DEFAULT_TOPOLOGY: Readonly<Record<string, readonly TopologyRule[]>> = {
  'validator': [{ role: 'validator', count: 'all', distinctOrgs: false }],
  'relayer': [{ role: 'validator', count: 2, distinctOrgs: true }],
  'full-node': [{ role: 'validator', count: 2, distinctOrgs: false }],
  'light-client': [{ role: 'full-node', count: 2, distinctOrgs: true }]
}

/**
 * The share of inbound capacity (percent of maxInboundConnections) guaranteed to each peer role
 * class. A class may use more while the node has room; when it is full, a newcomer of a class
 * under its share takes the place of a connection of a class over its share.
 */
export const DEFAULT_SLOT_SHARES: Readonly<Record<string, number>> = { 'validator': 50, 'relayer': 20, 'full-node': 20, 'light-client': 10 }

/** Role classes from most to least important: a connection's class is its most important role. */
export const DEFAULT_PRIORITY: readonly string[] = ['validator', 'relayer', 'full-node', 'light-client']

/** Eviction never leaves the node connected to fewer distinct members and organisations than this. */
export const DEFAULT_DIVERSITY = Object.freeze({ members: 3, orgs: 2 })

export interface Diversity {
  readonly members: number
  readonly orgs: number
}

/** The topology-related policy, with defaults applied to the roles the roster declares. */
export interface PeerPolicy {
  readonly topology: ReadonlyMap<string, readonly TopologyRule[]>
  readonly slotShares: ReadonlyMap<string, number>
  readonly priority: readonly string[]
  readonly diversity: Diversity
}

type RoleCheck = (value: unknown, path: string) => string

/** Parses `policy.topology`, `policy.slots`, `policy.priority` and `policy.diversity`. */
export function parsePeerPolicy (doc: JsonObject, path: string, roles: ReadonlySet<string>, knownRole: RoleCheck): PeerPolicy {
  const topology = new Map<string, readonly TopologyRule[]>()
  if (doc.topology === undefined) {
    for (const [local, rules] of Object.entries(DEFAULT_TOPOLOGY)) {
      if (roles.has(local)) topology.set(local, Object.freeze(rules.filter(r => roles.has(r.role))))
    }
  } else {
    for (const [local, value] of Object.entries(obj(doc.topology, `${path}.topology`))) {
      const p = `${path}.topology[${JSON.stringify(local)}]`
      knownRole(local, p)
      topology.set(local, Object.freeze(arr(value, p, 16).map((rule, i) => parseRule(rule, `${p}[${i}]`, knownRole))))
    }
  }
  const slotShares = new Map<string, number>()
  if (doc.slots === undefined) {
    for (const [role, share] of Object.entries(DEFAULT_SLOT_SHARES)) if (roles.has(role)) slotShares.set(role, share)
  } else {
    let total = 0
    for (const [role, value] of Object.entries(obj(doc.slots, `${path}.slots`))) {
      const p = `${path}.slots[${JSON.stringify(role)}]`
      knownRole(role, p)
      const share = int(value, p, 0, 100)
      slotShares.set(role, share)
      total += share
    }
    if (total > 100) throw new MalformedError(`${path}.slots`, `shares add up to ${total} percent of maxInboundConnections; at most 100`)
  }
  const priority = doc.priority === undefined
    ? [...DEFAULT_PRIORITY.filter(r => roles.has(r)), ...[...roles].filter(r => !DEFAULT_PRIORITY.includes(r))]
    : arr(doc.priority, `${path}.priority`, 64).map((role, i) => knownRole(role, `${path}.priority[${i}]`))
  let diversity: Diversity = DEFAULT_DIVERSITY
  if (doc.diversity !== undefined) {
    const d = obj(doc.diversity, `${path}.diversity`)
    fields(d, `${path}.diversity`, [], ['members', 'orgs'])
    diversity = Object.freeze({
      members: d.members === undefined ? DEFAULT_DIVERSITY.members : int(d.members, `${path}.diversity.members`, 0, 1024),
      orgs: d.orgs === undefined ? DEFAULT_DIVERSITY.orgs : int(d.orgs, `${path}.diversity.orgs`, 0, 1024)
    })
  }
  return Object.freeze({ topology, slotShares, priority: Object.freeze(priority), diversity })
}

function parseRule (value: unknown, path: string, knownRole: RoleCheck): TopologyRule {
  const doc = obj(value, path)
  fields(doc, path, ['role', 'count'], ['distinctOrgs'])
  const role = knownRole(doc.role, `${path}.role`)
  const count = doc.count === 'all' ? 'all' : int(doc.count, `${path}.count`, 1, 1024)
  if (doc.distinctOrgs !== undefined && typeof doc.distinctOrgs !== 'boolean') throw new MalformedError(`${path}.distinctOrgs`, 'expected true or false')
  return Object.freeze({ role, count, distinctOrgs: doc.distinctOrgs === true })
}

/** The class of a peer holding `roles`: its most important role by `priority`, and that rank (0 = highest). */
export function roleClass (policy: PeerPolicy, roles: readonly string[]): { role: string, rank: number } {
  let best: { role: string, rank: number } | undefined
  for (const role of roles) {
    const index = policy.priority.indexOf(role)
    const rank = index < 0 ? policy.priority.length : index
    if (best === undefined || rank < best.rank) best = { role, rank }
  }
  return best ?? { role: '', rank: policy.priority.length }
}
