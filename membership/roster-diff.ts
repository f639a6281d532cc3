import type { AdminSet, Member, Revocation, Roster } from './roster.ts'

export interface MemberChange {
  readonly id: string
  readonly fields: ReadonlyArray<keyof Member>
  readonly before: Member
  readonly after: Member
}

export interface PolicyChange {
  readonly path: string
  readonly before: unknown
  readonly after: unknown
}

export interface RosterDiff {
  readonly federation: string
  readonly fromEpoch: number
  readonly toEpoch: number
  readonly added: readonly Member[]
  readonly removed: readonly Member[]
  readonly changed: readonly MemberChange[]
  readonly revoked: readonly Revocation[]
  readonly unrevoked: readonly Revocation[]
  readonly policy: readonly PolicyChange[]
  readonly admins: { readonly before: AdminSet, readonly after: AdminSet } | null
  /** Admin keys the new epoch adds to the admin set. */
  readonly adminsAdded: readonly string[]
  /** Admin keys the new epoch removes from the admin set. */
  readonly adminsRemoved: readonly string[]
  /** Members whose connections the new epoch drops or narrows: removed, revoked, or losing roles. */
  readonly drops: readonly string[]
}

/** What changes from `before` to `after`, and whom it drops. */
export function diffRosters (before: Roster, after: Roster): RosterDiff {
  const added: Member[] = []
  const removed: Member[] = []
  const changed: MemberChange[] = []
  const drops = new Set<string>()
  for (const [id, m] of after.members) {
    const old = before.members.get(id)
    if (old === undefined) { added.push(m); continue }
    const keys = new Set([...Object.keys(old), ...Object.keys(m)]) as Set<keyof Member>
    const diff = [...keys].filter(k => JSON.stringify(old[k]) !== JSON.stringify(m[k]))
    if (diff.length > 0) changed.push({ id, fields: diff, before: old, after: m })
    if (diff.includes('key') || old.roles.some(r => !m.roles.includes(r))) drops.add(id)
  }
  for (const [id, m] of before.members) {
    if (!after.members.has(id)) { removed.push(m); drops.add(id) }
  }
  const beforeRevoked = new Set(before.document.revoked.map(r => JSON.stringify(r)))
  const afterRevoked = new Set(after.document.revoked.map(r => JSON.stringify(r)))
  const revoked = after.document.revoked.filter(r => !beforeRevoked.has(JSON.stringify(r)))
  const unrevoked = before.document.revoked.filter(r => !afterRevoked.has(JSON.stringify(r)))
  for (const r of revoked) if ('member' in r && before.members.has(r.member)) drops.add(r.member)
  const policy: PolicyChange[] = []
  const pb = before.document.policy
  const pa = after.document.policy
  for (const key of new Set([...Object.keys(pb), ...Object.keys(pa)])) {
    const b = pb[key]
    const a = pa[key]
    if (JSON.stringify(b) === JSON.stringify(a)) continue
    if (isRecord(b) && isRecord(a)) {
      for (const sub of new Set([...Object.keys(b), ...Object.keys(a)])) {
        if (JSON.stringify(b[sub]) !== JSON.stringify(a[sub])) policy.push({ path: `policy.${key}[${JSON.stringify(sub)}]`, before: b[sub], after: a[sub] })
      }
    } else {
      policy.push({ path: `policy.${key}`, before: b, after: a })
    }
  }
  const adminsChanged = JSON.stringify(before.document.admins) !== JSON.stringify(after.document.admins)
  return {
    federation: after.federation,
    fromEpoch: before.epoch,
    toEpoch: after.epoch,
    added,
    removed,
    changed,
    revoked,
    unrevoked,
    policy,
    admins: adminsChanged ? { before: before.document.admins, after: after.document.admins } : null,
    adminsAdded: after.document.admins.keys.filter(k => !before.document.admins.keys.includes(k)),
    adminsRemoved: before.document.admins.keys.filter(k => !after.document.admins.keys.includes(k)),
    drops: [...drops].sort()
  }
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
