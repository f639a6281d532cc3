import { parseDuration } from './duration.ts'
import { MalformedError } from './errors.ts'
import { parsePeerPolicy, type PeerPolicy } from './policy-topology.ts'
import { protocolKeyProblem, rolesAllowedOn } from './protocols.ts'
import { fields, int, obj, str, strSet, PROTOCOL_ID, type JsonObject } from './validate.ts'

/** The roles every example uses; `roster init` declares them unless told otherwise. */
export const STANDARD_ROLES = ['validator', 'relayer', 'full-node', 'light-client'] as const

/** Which peer roles each local role accepts, written into a new roster by `roster init`. */
export const DEFAULT_ACCEPTS: Readonly<Record<string, readonly string[]>> = {
  'validator': ['validator', 'relayer', 'full-node'],
  'relayer': ['validator', 'relayer'],
  'full-node': ['validator', 'full-node', 'relayer', 'light-client'],
  'light-client': ['validator', 'full-node']
}

export const DEFAULT_CREDENTIAL_MAX_TTL = '7d'
export const DEFAULT_CLOCK_SKEW = '60s'

/** Federation-wide connection limits (roster `policy.limits`); each has a default and bounds. */
export interface Limits {
  /** Connections one member may hold on a node when the member sets no maxConnections. @default 8 */
  readonly maxConnectionsPerMember: number
  /** @default 256 */
  readonly maxInboundConnections: number
  /** @default 64 */
  readonly maxOutboundConnections: number
  /** Inbound handshakes in progress at once, node-wide. @default 64 */
  readonly maxPendingHandshakes: number
  /** Inbound handshakes in progress at once from one IP address. @default 8 */
  readonly maxPendingHandshakesPerIp: number
  /** A new inbound connection must choose its encryption protocol within this. @default 3s */
  readonly firstBytesTimeoutMs: number
  /** Noise plus membership exchange must finish within this. @default 10s */
  readonly handshakeTimeoutMs: number
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxConnectionsPerMember: 8,
  maxInboundConnections: 256,
  maxOutboundConnections: 64,
  maxPendingHandshakes: 64,
  maxPendingHandshakesPerIp: 8,
  firstBytesTimeoutMs: 3_000,
  handshakeTimeoutMs: 10_000
})

/**
 * The range each limit may take in a signed roster. A roster outside them is refused as malformed:
 * a zero handshake deadline or a 25-day one (past what a timer can hold) would break every handshake.
 */
export const LIMIT_BOUNDS = {
  maxConnectionsPerMember: { min: 1, max: 65_536 },
  maxInboundConnections: { min: 1, max: 65_536 },
  maxOutboundConnections: { min: 1, max: 65_536 },
  maxPendingHandshakes: { min: 1, max: 65_536 },
  maxPendingHandshakesPerIp: { min: 1, max: 65_536 },
  firstBytesTimeout: { min: 100, max: 60_000 },
  handshakeTimeout: { min: 100, max: 300_000 }
} as const

/** Bounds of the policy's durations, in ms. */
export const DURATION_BOUNDS = {
  credentialMaxTtl: { min: 60_000, max: 366 * 86_400_000 },
  clockSkew: { min: 0, max: 86_400_000 }
} as const

/** The roster policy with defaults applied and durations in milliseconds. */
export interface Policy extends PeerPolicy {
  /** protocol id or family (`/name/*`) → roles allowed to open it; an unlisted protocol is denied. */
  readonly protocols: ReadonlyMap<string, ReadonlySet<string>>
  /** local role → peer roles it accepts; a role without an entry accepts every role. */
  readonly accepts: ReadonlyMap<string, ReadonlySet<string>>
  readonly credentialMaxTtlMs: number
  readonly clockSkewMs: number
  readonly limits: Limits
}

const MAX_PROTOCOLS = 1024
const POLICY_FIELDS = ['protocols', 'accepts', 'credentialMaxTtl', 'clockSkew', 'limits', 'topology', 'slots', 'priority', 'diversity'] as const
const LIMIT_FIELDS = ['maxConnectionsPerMember', 'maxInboundConnections', 'maxOutboundConnections', 'maxPendingHandshakes', 'maxPendingHandshakesPerIp', 'firstBytesTimeout', 'handshakeTimeout'] as const

/** Parses roster `policy`, checking every role it names is declared in the roster. */
export function parsePolicy (value: unknown, path: string, roles: ReadonlySet<string>): Policy {
  const doc = obj(value, path)
  fields(doc, path, [], POLICY_FIELDS)
  const roleList = (v: unknown, p: string): ReadonlySet<string> => new Set(strSet(v, p, 64, (r, rp) => knownRole(r, rp, roles)))

  const protocols = new Map<string, ReadonlySet<string>>()
  if (doc.protocols !== undefined) {
    const entries = Object.entries(obj(doc.protocols, `${path}.protocols`))
    if (entries.length > MAX_PROTOCOLS) throw new MalformedError(`${path}.protocols`, `at most ${MAX_PROTOCOLS} protocols`)
    for (const [protocol, list] of entries) {
      const p = `${path}.protocols[${JSON.stringify(protocol)}]`
      str(protocol, p, { max: 256, pattern: PROTOCOL_ID, hint: 'a protocol id such as /chain/consensus/1.0.0, or a family such as /meshsub/*' })
      const problem = protocolKeyProblem(protocol)
      if (problem !== null) throw new MalformedError(p, problem)
      protocols.set(protocol, roleList(list, p))
    }
  }
  const accepts = new Map<string, ReadonlySet<string>>()
  if (doc.accepts !== undefined) {
    for (const [role, list] of Object.entries(obj(doc.accepts, `${path}.accepts`))) {
      const p = `${path}.accepts[${JSON.stringify(role)}]`
      knownRole(role, p, roles)
      accepts.set(role, roleList(list, p))
    }
  }
  const credentialMaxTtlMs = parseDuration(doc.credentialMaxTtl === undefined ? DEFAULT_CREDENTIAL_MAX_TTL : doc.credentialMaxTtl, `${path}.credentialMaxTtl`, DURATION_BOUNDS.credentialMaxTtl)
  const clockSkewMs = parseDuration(doc.clockSkew === undefined ? DEFAULT_CLOCK_SKEW : doc.clockSkew, `${path}.clockSkew`, DURATION_BOUNDS.clockSkew)
  const limits = doc.limits === undefined ? DEFAULT_LIMITS : parseLimits(doc.limits, `${path}.limits`)
  const peers = parsePeerPolicy(doc, path, roles, (v, p) => knownRole(v, p, roles))
  return Object.freeze({ protocols, accepts, credentialMaxTtlMs, clockSkewMs, limits, ...peers })
}

function parseLimits (value: unknown, path: string): Limits {
  const doc: JsonObject = obj(value, path)
  fields(doc, path, [], LIMIT_FIELDS)
  const n = (key: keyof typeof LIMIT_BOUNDS & keyof Limits): number =>
    doc[key] === undefined ? DEFAULT_LIMITS[key] : int(doc[key], `${path}.${key}`, LIMIT_BOUNDS[key].min, LIMIT_BOUNDS[key].max)
  const ms = (key: 'firstBytesTimeout' | 'handshakeTimeout'): number =>
    doc[key] === undefined ? DEFAULT_LIMITS[`${key}Ms`] : parseDuration(doc[key], `${path}.${key}`, LIMIT_BOUNDS[key])
  return Object.freeze({
    maxConnectionsPerMember: n('maxConnectionsPerMember'),
    maxInboundConnections: n('maxInboundConnections'),
    maxOutboundConnections: n('maxOutboundConnections'),
    maxPendingHandshakes: n('maxPendingHandshakes'),
    maxPendingHandshakesPerIp: n('maxPendingHandshakesPerIp'),
    firstBytesTimeoutMs: ms('firstBytesTimeout'),
    handshakeTimeoutMs: ms('handshakeTimeout')
  })
}

function knownRole (value: unknown, path: string, roles: ReadonlySet<string>): string {
  const role = str(value, path, { max: 32 })
  if (!roles.has(role)) {
    throw new MalformedError(path, `unknown role ${JSON.stringify(role)} (the roster declares: ${[...roles].join(', ')})`)
  }
  return role
}

/** True when a node holding `localRoles` accepts a peer holding `peerRoles` (roster policy.accepts). */
export function acceptsPeer (policy: Policy, localRoles: Iterable<string>, peerRoles: Iterable<string>): boolean {
  const accepted = new Set<string>()
  for (const role of localRoles) {
    const list = policy.accepts.get(role)
    if (list === undefined) return true
    for (const r of list) accepted.add(r)
  }
  for (const role of peerRoles) {
    if (accepted.has(role)) return true
  }
  return false
}

/**
 * True when a peer holding `peerRoles` may open `protocol` (roster policy.protocols: the exact id's
 * entry, else its family's `/name/*` entry; default deny).
 */
export function protocolAllows (policy: Policy, protocol: string, peerRoles: Iterable<string>): boolean {
  const allowed = rolesAllowedOn(policy.protocols, protocol)
  if (allowed === undefined) return false
  for (const role of peerRoles) {
    if (allowed.has(role)) return true
  }
  return false
}
