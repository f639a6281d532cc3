import type { TypedEventTarget } from 'main-event'
import {
  acceptRoster, adminSetFingerprint, RosterRefusedError, type ReasonCode, type Roster, type RosterDiff
} from '../membership/index.ts'

export interface RosterUpdate {
  readonly previous: Roster | null
  readonly current: Roster
  readonly diff: RosterDiff | null
  /** Where the epoch came from: a file path, `publish`, `peer …`, or `restart`. */
  readonly source: string
}

export interface RosterRefusal {
  readonly code: ReasonCode
  readonly message: string
  readonly source: string
  readonly epoch?: number
}

/**
 * The root an operator pins: the federation, and the fingerprint of the first epoch this node
 * trusts, or of that epoch's admin set (`fedgate roster show` prints both).
 */
export interface TrustRoot {
  readonly federation: string
  readonly fingerprint: string
}

export interface RosterSourceEvents {
  roster: CustomEvent<RosterUpdate>
  refused: CustomEvent<RosterRefusal>
}

/**
 * Where a gate reads the accepted roster: the epoch in force now, and an event for every epoch
 * accepted or refused. RosterStore keeps epochs in files; MemoryRosterStore keeps them in memory
 * (a browser, a test, an embedder with its own storage).
 */
export interface RosterSource extends TypedEventTarget<RosterSourceEvents> {
  /** The accepted roster; throws while there is none. */
  readonly current: Roster
}

/**
 * A roster source that also takes epochs and keeps the ones it accepted, so it can serve them to
 * peers: what roster sync needs. RosterStore keeps every epoch in files; MemoryRosterStore keeps the
 * most recent ones in memory.
 */
export interface EpochStore extends RosterSource {
  apply (next: Roster, source: string): Promise<RosterRefusal | null>
  applyText (text: string, source: string): Promise<RosterRefusal | null>
  /** Records a refusal decided elsewhere (a check off the main thread): dispatched like the store's own. */
  refuse (refusal: RosterRefusal): RosterRefusal
  /** The accepted epochs it can serve, ascending. */
  epochs (): Promise<number[]>
  /** A served epoch's bytes, or undefined. */
  epochText (epoch: number): Promise<Uint8Array | undefined>
}

/** True when `roster` is the pinned root: same federation, and its fingerprint or its admin set's. */
export function matchesRoot (roster: Roster, root: TrustRoot): boolean {
  return roster.federation === root.federation &&
    (roster.fingerprint === root.fingerprint || adminSetFingerprint(roster.document.admins) === root.fingerprint)
}

/**
 * Whether `next` may replace `previous` (null before the first epoch): null when it may, `unchanged`
 * when it is the accepted epoch offered again, else the refusal (without its source). The first
 * epoch must match `trustRoot` when one is pinned; every epoch must pass `acceptRoster`.
 */
export function judgeEpoch (previous: Roster | null, next: Roster, trustRoot: TrustRoot | undefined): Omit<RosterRefusal, 'source'> | 'unchanged' | null {
  if (previous === null && trustRoot !== undefined && !matchesRoot(next, trustRoot)) {
    return { code: 'untrusted-root', message: `epoch ${next.epoch} of ${JSON.stringify(next.federation)} (fingerprint ${next.fingerprint}, admin set ${adminSetFingerprint(next.document.admins)}) is not the pinned trust root ${JSON.stringify(trustRoot.federation)} ${trustRoot.fingerprint}`, epoch: next.epoch }
  }
  try {
    acceptRoster(previous, next)
  } catch (err) {
    if (err instanceof RosterRefusedError) {
      if (err.code === 'roster-stale' && previous !== null && next.fingerprint === previous.fingerprint) return 'unchanged'
      return { code: err.code, message: err.detail, epoch: next.epoch }
    }
    throw err
  }
  return null
}
