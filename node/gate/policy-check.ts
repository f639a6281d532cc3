import type { TypedEventTarget } from 'main-event'
import { describePolicyWarning, policyWarnings, type PolicyWarning, type Roster } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import type { GateLog } from '../telemetry.ts'
import type { FederationEvents } from '../types.ts'

/** What set a policy check off. */
export type PolicyCheckTrigger = 'start' | 'roster' | 'handle'

export interface PolicyCheckInit {
  readonly roster: () => Roster
  readonly localRoles: () => readonly string[]
  /** The protocols this node's libp2p handles now. */
  readonly registered: () => readonly string[]
  /** fedgate's own protocols: open to every admitted peer, never judged by the policy. */
  readonly internalProtocols: ReadonlySet<string>
  readonly log: GateLog
  readonly events: TypedEventTarget<FederationEvents>
}

/**
 * Warns when the roster leaves a protocol this node registered unusable: denied to every role the
 * node accepts, or allowed while a protocol its service depends on (identify, for gossipsub and
 * kad-dht) is denied, which would otherwise fail silently as an empty mesh or routing table. Runs
 * when the node starts, on every roster epoch, and for each protocol registered after start.
 */
export class PolicyCheck {
  private readonly init: PolicyCheckInit

  constructor (init: PolicyCheckInit) {
    this.init = init
  }

  /** Checks `protocols` (default: every protocol registered), logging and dispatching each warning. */
  run (trigger: PolicyCheckTrigger, protocols: readonly string[] = this.init.registered()): PolicyWarning[] {
    const { roster, localRoles, internalProtocols, log, events } = this.init
    const current = roster()
    const judged = protocols.filter(p => !internalProtocols.has(p))
    const warnings = policyWarnings(current.policy, judged, localRoles(), current.roles)
    for (const warning of warnings) {
      logEvent(log, 'warn', 'policy-warning', { reason: warning.kind, ...warning, epoch: current.epoch, trigger }, describePolicyWarning(warning))
      events.safeDispatchEvent('policy-warning', { detail: { ...warning, epoch: current.epoch } })
    }
    return warnings
  }
}
