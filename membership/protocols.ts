/**
 * Protocol ids in the roster's `policy.protocols`: exact ids, protocol families, the presets for
 * the common libp2p services, and the checks that tell an operator when a policy leaves a service
 * it runs unusable.
 */

/**
 * A key ending in this is a protocol family: `/meshsub/*` allows every id made of `/meshsub/` and
 * one more path segment (`/meshsub/1.1.0`, `/meshsub/1.2.0`, a later `/meshsub/1.3.0`), and nothing
 * else (not `/meshsub/1.2.0/x`, not `/meshsubx/1`). A library upgrade that adds a version then
 * keeps working without a new epoch. An exact key for an id wins over its family, so a roster can
 * still narrow one version.
 */
export const PROTOCOL_FAMILY_SUFFIX = '/*'

/** True when a policy key names a protocol family (`/name/*`). */
export function isProtocolFamily (key: string): boolean {
  return key.endsWith(PROTOCOL_FAMILY_SUFFIX)
}

/**
 * Why a policy key is not a valid family, or null when it is an exact id or a valid family: the
 * only `*` is the last segment, after at least one named segment.
 */
export function protocolKeyProblem (key: string): string | null {
  const star = key.indexOf('*')
  if (star === -1) return null
  if (!isProtocolFamily(key) || star !== key.length - 1) return 'a `*` may only stand as the last segment of a protocol family, as in /meshsub/*'
  if (key.length <= PROTOCOL_FAMILY_SUFFIX.length + 1) return 'a protocol family names at least one segment before /*, as in /meshsub/*'
  return null
}

/** The family key that covers `protocol` (`/meshsub/1.2.0` → `/meshsub/*`), or undefined for a one-segment id. */
export function familyOf (protocol: string): string | undefined {
  const slash = protocol.lastIndexOf('/')
  if (slash <= 0 || slash === protocol.length - 1) return undefined
  return `${protocol.slice(0, slash)}${PROTOCOL_FAMILY_SUFFIX}`
}

/** The roles a policy table allows on `protocol`: its exact entry, else its family's, else none (default deny). */
export function rolesAllowedOn (protocols: ReadonlyMap<string, ReadonlySet<string>>, protocol: string): ReadonlySet<string> | undefined {
  const exact = protocols.get(protocol)
  if (exact !== undefined) return exact
  const family = familyOf(protocol)
  return family === undefined ? undefined : protocols.get(family)
}

/** identify's request protocol: gossipsub, floodsub, kad-dht and circuit relay learn a peer's protocols from it. */
export const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'

export interface ProtocolPreset {
  /** The policy keys the preset allows (exact ids and families). */
  readonly protocols: readonly string[]
  /** Exact ids the service cannot work without, on the same connections. */
  readonly needs: readonly string[]
  readonly meaning: string
}

/**
 * Policy entries for common libp2p services, for `fedgate roster allow --preset NAME --roles R`.
 * Families cover every version the libraries speak now and later.
 */
export const PROTOCOL_PRESETS = {
  'identify': { protocols: ['/ipfs/id/*', '/ipfs/id/push/*'], needs: [], meaning: '@libp2p/identify and identify-push: peers learn each other\'s protocols and addresses' },
  'ping': { protocols: ['/ipfs/ping/*'], needs: [], meaning: '@libp2p/ping (libp2p\'s connection monitor uses it too)' },
  'gossipsub': { protocols: ['/meshsub/*', '/floodsub/*'], needs: [IDENTIFY_PROTOCOL], meaning: '@libp2p/gossipsub, every meshsub version and its floodsub fallback' },
  'floodsub': { protocols: ['/floodsub/*'], needs: [IDENTIFY_PROTOCOL], meaning: '@libp2p/floodsub' },
  'kad-dht': { protocols: ['/ipfs/kad/*', '/ipfs/lan/kad/*'], needs: [IDENTIFY_PROTOCOL], meaning: '@libp2p/kad-dht, public and LAN (set your own `protocol` option with --protocol)' },
  'fetch': { protocols: ['/libp2p/fetch/*'], needs: [], meaning: '@libp2p/fetch' },
  'circuit-relay': { protocols: ['/libp2p/circuit/relay/0.2.0/hop', '/libp2p/circuit/relay/0.2.0/stop'], needs: [IDENTIFY_PROTOCOL], meaning: '@libp2p/circuit-relay-v2, hop and stop' }
} as const satisfies Record<string, ProtocolPreset>

export type PresetName = keyof typeof PROTOCOL_PRESETS

export function isPresetName (name: string): name is PresetName {
  return Object.hasOwn(PROTOCOL_PRESETS, name)
}

/** The presets whose entries cover `protocol`. */
export function presetsOf (protocol: string): PresetName[] {
  const family = familyOf(protocol)
  return (Object.keys(PROTOCOL_PRESETS) as PresetName[])
    .filter(name => PROTOCOL_PRESETS[name].protocols.some((key: string) => key === protocol || key === family))
}

/** Something in a policy that leaves a protocol this node runs unusable. */
export type PolicyWarning =
  /** No role this node accepts may open `protocol`: the handler is unreachable. */
  | { readonly kind: 'protocol-unreachable', readonly protocol: string }
  /**
   * This node answers ping but denies it to `roles`: libp2p's connection monitor (on by default)
   * pings each connection every 10 s and closes it when the ping stream is reset, so peers in
   * those roles keep losing their connections to this node.
   */
  | { readonly kind: 'ping-denied', readonly protocol: string, readonly roles: readonly string[], readonly fixRoles: readonly string[] }
  /** `roles` may open `protocol` but not `needs`, which its service depends on: it fails silently for them. */
  | { readonly kind: 'dependency-denied', readonly protocol: string, readonly needs: string, readonly roles: readonly string[], readonly fixRoles: readonly string[] }

export interface PolicyView {
  readonly protocols: ReadonlyMap<string, ReadonlySet<string>>
  readonly accepts: ReadonlyMap<string, ReadonlySet<string>>
}

/**
 * What a policy leaves unusable among the protocols a node registered, seen from a node holding
 * `localRoles` in a roster declaring `roles`: protocols no accepted role may open, and protocols
 * allowed to a role that is denied a protocol their service depends on (identify, for gossipsub
 * and kad-dht).
 */
export function policyWarnings (policy: PolicyView, registered: Iterable<string>, localRoles: Iterable<string>, roles: Iterable<string>): PolicyWarning[] {
  const accepted = acceptedRoles(policy, localRoles, roles)
  const warnings: PolicyWarning[] = []
  for (const protocol of new Set(registered)) {
    const allowed = [...(rolesAllowedOn(policy.protocols, protocol) ?? [])].filter(role => accepted.has(role))
    if (presetsOf(protocol).includes('ping')) {
      const denied = [...accepted].filter(role => !allowed.includes(role)).sort()
      if (denied.length > 0) warnings.push({ kind: 'ping-denied', protocol, roles: denied, fixRoles: [...accepted].sort() })
      continue
    }
    if (allowed.length === 0) {
      warnings.push({ kind: 'protocol-unreachable', protocol })
      continue
    }
    const needs = new Set(presetsOf(protocol).flatMap(name => [...PROTOCOL_PRESETS[name].needs]))
    for (const need of needs) {
      const granted = rolesAllowedOn(policy.protocols, need) ?? new Set<string>()
      const denied = allowed.filter(role => !granted.has(role)).sort()
      if (denied.length > 0) warnings.push({ kind: 'dependency-denied', protocol, needs: need, roles: denied, fixRoles: [...new Set([...granted, ...denied])].sort() })
    }
  }
  return warnings
}

/**
 * The protocols among `protocols` that `roles` may open under `after` but could not under
 * `before`: what a roster epoch gives back to a peer on its existing connections.
 */
export function widenedProtocols (before: PolicyView, after: PolicyView, protocols: Iterable<string>, roles: readonly string[]): string[] {
  const allows = (policy: PolicyView, protocol: string): boolean => {
    const allowed = rolesAllowedOn(policy.protocols, protocol)
    return allowed !== undefined && roles.some(role => allowed.has(role))
  }
  return [...new Set(protocols)].filter(protocol => allows(after, protocol) && !allows(before, protocol)).sort()
}

function acceptedRoles (policy: PolicyView, localRoles: Iterable<string>, roles: Iterable<string>): ReadonlySet<string> {
  const accepted = new Set<string>()
  for (const role of localRoles) {
    const list = policy.accepts.get(role)
    if (list === undefined) return new Set(roles)
    for (const r of list) accepted.add(r)
  }
  return accepted
}

/** One line an operator can act on. */
export function describePolicyWarning (warning: PolicyWarning): string {
  if (warning.kind === 'protocol-unreachable') {
    return `${warning.protocol} is registered on this node but the roster allows it to no role this node accepts; fix: fedgate roster allow FILE --protocol ${warning.protocol} --roles ROLE (or a --preset)`
  }
  if (warning.kind === 'ping-denied') {
    return `${warning.protocol} is registered on this node but denied to ${warning.roles.join(', ')}: libp2p's connection monitor pings every connection and closes it when the ping is reset, so those peers keep losing their connections; fix: fedgate roster allow FILE --preset ping --roles ${warning.fixRoles.join(',')} (or turn the monitor's abortConnectionOnPingFailure off on every node)`
  }
  const fix = presetsOf(warning.needs).includes('identify') ? '--preset identify' : `--protocol ${warning.needs}`
  return `${warning.protocol} is allowed to ${warning.roles.join(', ')} but ${warning.needs}, which it depends on, is not, so it fails silently for them; fix: fedgate roster allow FILE ${fix} --roles ${warning.fixRoles.join(',')}`
}
