import { Roster, type Member, type Revocation, type RosterDocument } from '../../membership/index.ts'

/**
 * An epoch as the change from the epoch before it: every field of the new document except its
 * members and revocations, which travel as what was removed, changed and appended. The receiver
 * rebuilds the whole document from its own copy of the base epoch, and the roster store then checks
 * the admins' signatures on the rebuilt epoch exactly as on a whole one: a delta is trusted for
 * nothing. A revocation in a roster of thousands of members travels in about a kilobyte.
 */
export interface EpochDelta {
  /** Fingerprint of the epoch this one follows. */
  readonly base: string
  readonly document: Omit<RosterDocument, 'members' | 'revoked'>
  readonly members: { readonly removed: readonly string[], readonly changed: readonly Member[], readonly added: readonly Member[] }
  readonly revoked: { readonly removed: readonly Revocation[], readonly added: readonly Revocation[] }
}

/**
 * The delta from `base` to `next`, or undefined when the change cannot be written as removals,
 * in-place changes and appends (a reordering, say): the whole epoch travels then.
 */
export function epochDelta (base: Roster, next: Roster): EpochDelta | undefined {
  if (next.epoch !== base.epoch + 1 || next.federation !== base.federation) return undefined
  const { members: nextMembers, revoked: nextRevoked, ...document } = next.document
  const nextIds = new Set(nextMembers.map(m => m.id))
  const removed = base.document.members.filter(m => !nextIds.has(m.id)).map(m => m.id)
  const kept = base.document.members.filter(m => nextIds.has(m.id))
  const changed: Member[] = []
  for (let i = 0; i < kept.length; i++) {
    const before = kept[i]
    const after = nextMembers[i]
    if (before === undefined || after === undefined || before.id !== after.id) return undefined
    if (JSON.stringify(before) !== JSON.stringify(after)) changed.push(after)
  }
  const added = nextMembers.slice(kept.length)
  const key = (r: Revocation): string => JSON.stringify(r)
  const nextRevocations = new Set(nextRevoked.map(key))
  const keptRevocations = base.document.revoked.filter(r => nextRevocations.has(key(r)))
  if (keptRevocations.some((r, i) => key(r) !== key(nextRevoked[i] ?? { member: '' }))) return undefined
  const delta: EpochDelta = {
    base: base.fingerprint,
    document,
    members: { removed, changed, added },
    revoked: { removed: base.document.revoked.filter(r => !nextRevocations.has(key(r))), added: nextRevoked.slice(keptRevocations.length) }
  }
  // Only a delta that rebuilds the very same epoch is ever sent.
  return applyDelta(base, delta)?.fingerprint === next.fingerprint ? delta : undefined
}

/**
 * The epoch `delta` describes, rebuilt on `base`; undefined when `base` is not the epoch it follows
 * or the delta (which may come from a peer, so is checked here) does not fit it.
 */
export function applyDelta (base: Roster, delta: EpochDelta): Roster | undefined {
  if (!isDelta(delta) || delta.base !== base.fingerprint) return undefined
  const removed = new Set(delta.members.removed)
  const changed = new Map(delta.members.changed.map(m => [m.id, m]))
  const members = base.document.members.filter(m => !removed.has(m.id)).map(m => changed.get(m.id) ?? m)
  const removedRevocations = new Set(delta.revoked.removed.map(r => JSON.stringify(r)))
  const revoked = base.document.revoked.filter(r => !removedRevocations.has(JSON.stringify(r)))
  try {
    return Roster.fromJSON({ ...delta.document, members: [...members, ...delta.members.added], revoked: [...revoked, ...delta.revoked.added] })
  } catch {
    return undefined
  }
}

/** Shape checks of a delta from the wire; the rebuilt roster is then validated whole. */
function isDelta (value: unknown): value is EpochDelta {
  const d = value as Partial<Record<keyof EpochDelta, unknown>> | null
  if (d === null || typeof d !== 'object' || typeof d.base !== 'string') return false
  const members = d.members as Record<string, unknown> | null
  const revoked = d.revoked as Record<string, unknown> | null
  return typeof d.document === 'object' && d.document !== null && !Array.isArray(d.document) &&
    members !== null && typeof members === 'object' && Array.isArray(members.removed) && members.removed.every(id => typeof id === 'string') &&
    Array.isArray(members.changed) && members.changed.every(isObject) && Array.isArray(members.added) &&
    revoked !== null && typeof revoked === 'object' && Array.isArray(revoked.removed) && revoked.removed.every(isObject) && Array.isArray(revoked.added)
}

function isObject (value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
