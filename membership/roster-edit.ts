import { RosterEditError } from './errors.ts'
import type { SigningKey } from './keys.ts'
import { DEFAULT_ACCEPTS, DEFAULT_CLOCK_SKEW, DEFAULT_CREDENTIAL_MAX_TTL, STANDARD_ROLES } from './policy.ts'
import { Roster, type AdminSet, type Member, type Revocation, type RosterDocument } from './roster.ts'
import { signMessage } from './signing.ts'
import { isoTime, obj } from './validate.ts'

export interface InitRosterOptions {
  federation: string
  admins: readonly string[]
  threshold: number
  roles?: readonly string[]
  now?: number
}

/** A genesis roster (epoch 1, unsigned) with the default policy written out in full. */
export function initRoster (opts: InitRosterOptions): Roster {
  const roles = opts.roles ?? STANDARD_ROLES
  const accepts: Record<string, string[]> = {}
  for (const role of roles) {
    const list = DEFAULT_ACCEPTS[role]
    if (list !== undefined) accepts[role] = list.filter(r => roles.includes(r))
  }
  return Roster.fromJSON({
    federation: opts.federation,
    epoch: 1,
    issuedAt: isoTime(opts.now ?? Date.now()),
    roles,
    admins: { threshold: opts.threshold, keys: opts.admins },
    members: [],
    revoked: [],
    policy: { protocols: {}, accepts, credentialMaxTtl: DEFAULT_CREDENTIAL_MAX_TTL, clockSkew: DEFAULT_CLOCK_SKEW },
    signatures: []
  })
}

type Draft = { -readonly [K in keyof RosterDocument]: RosterDocument[K] }

/**
 * Applies an edit. Editing a roster that carries signatures yields the next epoch, unsigned; editing
 * an unsigned draft keeps its epoch. Every edit re-validates the whole roster.
 */
function edit (roster: Roster, now: number, change: (draft: Draft) => void): Roster {
  const draft: Draft = structuredClone(roster.document) as Draft
  if (roster.signed) draft.epoch = roster.epoch + 1
  draft.signatures = []
  draft.issuedAt = isoTime(now)
  change(draft)
  return Roster.fromJSON(draft)
}

export function addMember (roster: Roster, member: Member, now = Date.now()): Roster {
  if (roster.members.has(member.id)) throw new RosterEditError(`member ${JSON.stringify(member.id)} is already in the roster; remove it first to change it`)
  return edit(roster, now, d => { d.members = [...d.members, stripUndefined(member)] })
}

export function removeMember (roster: Roster, id: string, now = Date.now()): Roster {
  if (!roster.members.has(id)) throw new RosterEditError(`no member ${JSON.stringify(id)} in the roster (members: ${[...roster.members.keys()].slice(0, 10).join(', ')})`)
  return edit(roster, now, d => { d.members = d.members.filter(m => m.id !== id) })
}

export function revoke (roster: Roster, revocation: Revocation, now = Date.now()): Roster {
  const key = JSON.stringify(revocation)
  if (roster.document.revoked.some(r => JSON.stringify(r) === key)) throw new RosterEditError(`already revoked: ${key}`)
  return edit(roster, now, d => { d.revoked = [...d.revoked, revocation] })
}

/** What `updateMember` may change; fields left undefined keep their value. */
export interface MemberUpdate {
  readonly roles?: readonly string[]
  readonly key?: string
  readonly org?: string
  readonly addrs?: readonly string[]
  readonly maxConnections?: number
}

/** Changes fields of a listed member, keeping its id and everything not named in `update`. */
export function updateMember (roster: Roster, id: string, update: MemberUpdate, now = Date.now()): Roster {
  const member = roster.members.get(id)
  if (member === undefined) throw new RosterEditError(`no member ${JSON.stringify(id)} in the roster`)
  const changes = stripUndefined(update)
  if (Object.keys(changes).length === 0) throw new RosterEditError(`nothing to change for member ${JSON.stringify(id)}`)
  const unchanged = Object.entries(changes).every(([k, v]) => JSON.stringify(member[k as keyof Member]) === JSON.stringify(v))
  if (unchanged) throw new RosterEditError(`member ${JSON.stringify(id)} already has these values`)
  return edit(roster, now, d => { d.members = d.members.map(m => m.id === id ? inFileOrder({ ...m, ...changes }) : m) })
}

/** Removes a revocation, so what it named may be admitted again. */
export function unrevoke (roster: Roster, revocation: Revocation, now = Date.now()): Roster {
  const key = JSON.stringify(revocation)
  if (!roster.document.revoked.some(r => JSON.stringify(r) === key)) throw new RosterEditError(`not revoked: ${key}`)
  return edit(roster, now, d => { d.revoked = d.revoked.filter(r => JSON.stringify(r) !== key) })
}

/** Sets the roles allowed to open `protocol` (replacing any earlier entry). */
export function allowProtocol (roster: Roster, protocol: string, roles: readonly string[], now = Date.now()): Roster {
  return edit(roster, now, d => {
    const policy = structuredClone(d.policy)
    const protocols = obj(policy.protocols ?? {}, '$.policy.protocols')
    policy.protocols = { ...protocols, [protocol]: [...roles] }
    d.policy = policy
  })
}

/** Sets the roster policy field `key` (e.g. accepts, credentialMaxTtl) to `value`. */
export function setPolicy (roster: Roster, key: string, value: unknown, now = Date.now()): Roster {
  return edit(roster, now, d => { d.policy = { ...d.policy, [key]: value } })
}

/** Replaces the admin set: the current admins sign the epoch that names their successors. */
export function setAdmins (roster: Roster, admins: AdminSet, now = Date.now()): Roster {
  return edit(roster, now, d => { d.admins = admins })
}

/** Adds one admin signature. The roster content, and so its epoch, is unchanged. */
export function signRoster (roster: Roster, admin: SigningKey): Roster {
  if (admin.kind !== 'admin') throw new RosterEditError(`a roster is signed with an admin key, not a ${admin.kind} key`)
  if (roster.document.signatures.some(s => s.key === admin.publicKey)) throw new RosterEditError(`admin ${admin.publicKey} already signed epoch ${roster.epoch}`)
  const sig = signMessage(roster.signingMessage, admin.secretKey)
  return Roster.fromJSON({ ...roster.document, signatures: [...roster.document.signatures, { key: admin.publicKey, sig }] })
}

/** A member's fields in the order the file shows them: id, org, roles, key, addrs, maxConnections. */
function inFileOrder (m: Member): Member {
  return stripUndefined({ id: m.id, org: m.org, roles: m.roles, key: m.key, addrs: m.addrs, maxConnections: m.maxConnections })
}

function stripUndefined<T extends object> (value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
