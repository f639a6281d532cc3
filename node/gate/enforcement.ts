import type { TypedEventTarget } from 'main-event'
import { reasonFix, type Credential, type CredentialVerifier, type ReasonCode, type Roster } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import type { RosterUpdate } from '../roster-source.ts'
import type { GateLog, GateMetrics } from '../telemetry.ts'
import { unrefTimer, yieldToEventLoop } from '../timers.ts'
import type { FederationEvents } from '../types.ts'
import { judgeCredential } from './admission.ts'
import type { AdmittedConnection, Admitted } from './admitted.ts'
import type { Bye } from './bye.ts'
import type { StreamGuard } from './stream-guard.ts'

/** Connections re-checked between two yields to the event loop. */
const YIELD_EVERY = 256
/** Longest delay a Node timer holds (about 24.8 days); longer expiries re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface EnforcementInit {
  readonly admitted: Admitted
  readonly bye: Bye
  readonly guard: StreamGuard
  readonly verifier: CredentialVerifier
  readonly metrics: GateMetrics
  readonly log: GateLog
  readonly clock: () => number
  readonly events: TypedEventTarget<FederationEvents>
  readonly roster: () => Roster
  readonly localRoles: () => readonly string[]
  readonly ownCredentialCheck: (roster: Roster) => ReasonCode | null
}

/**
 * Live enforcement: every admitted connection is re-checked against each new roster epoch and when
 * its credential expires, and closed with the reason when it no longer passes. Open streams whose
 * protocol an epoch withdraws are reset. Only this node's own decision to close (already under way)
 * exempts a connection: nothing a peer says does.
 */
export class Enforcement {
  private readonly init: EnforcementInit

  constructor (init: EnforcementInit) {
    this.init = init
  }

  /** Why `credential` no longer admits `peerId` under `roster`, or null when it still does. */
  recheck (credential: Credential, peerId: string, roster: Roster = this.init.roster()): ReasonCode | null {
    return judgeCredential(credential, peerId, { roster, localRoles: this.init.localRoles(), now: this.init.clock(), verifier: this.init.verifier })
  }

  /** Re-checks every admitted connection against a new epoch and closes what no longer passes. */
  async rosterChanged (update: RosterUpdate): Promise<number> {
    const { admitted, bye, guard, metrics, log, clock, events } = this.init
    const since = clock()
    const roster = update.current
    metrics.rosterEpoch.set(roster.epoch)
    metrics.rosterUpdates.inc({ result: 'accepted', reason: 'ok' })
    const own = this.init.ownCredentialCheck(roster)
    if (own !== null) {
      logEvent(log, 'error', 'own-credential-refused', { reason: own, epoch: roster.epoch, fix: reasonFix(own) }, `own credential no longer verifies under epoch ${roster.epoch}: ${own}`)
    }
    const closing: Array<Promise<void>> = []
    let checked = 0
    for (const entry of [...admitted.all()]) {
      // Thousands of connections: let handshakes, streams and the admin endpoint run meanwhile.
      if (++checked % YIELD_EVERY === 0) await yieldToEventLoop()
      if (entry.closing?.by === 'local' || entry.connection.status !== 'open') continue
      const code = this.recheck(entry.peer.credential, entry.peer.peerId, roster)
      if (code !== null) closing.push(bye.close(entry.connection, code, since))
      else guard.enforce(entry.connection)
    }
    events.safeDispatchEvent('roster', { detail: { epoch: roster.epoch, previousEpoch: update.previous?.epoch ?? null, dropped: closing.length, diff: update.diff } })
    await Promise.all(closing)
    return closing.length
  }

  /** Arms the timer that re-checks `entry` when its credential (plus the clock skew) expires. */
  scheduleExpiry (entry: AdmittedConnection): void {
    clearTimeout(entry.expiry)
    const deadline = entry.peer.credential.notAfterMs + this.init.roster().policy.clockSkewMs
    const delay = Math.min(Math.max(deadline - this.init.clock(), 0) + 1, MAX_TIMER_MS)
    entry.expiry = setTimeout(() => {
      const code = this.recheck(entry.peer.credential, entry.peer.peerId)
      if (code !== null) void this.init.bye.close(entry.connection, code)
      else this.scheduleExpiry(entry)
    }, delay)
    unrefTimer(entry.expiry)
  }
}
