import {
  countSignatures, type AdminSet, type Revocation, type Roster, type RosterDiff
} from '../../membership/index.ts'
import { CliError, printJson, printLine, UsageError, type Rows } from './io.ts'
import { closeMatches } from './suggest.ts'

/** What the roster edits and `roster sign|merge-signatures --json` print: the file after the command. */
export interface RosterEditReport {
  file: string
  federation: string
  epoch: number
  /** Whether the epoch carries any signature (an edit of a signed epoch starts the next one unsigned). */
  signed: boolean
  /** Signatures the epoch carries. */
  signatures: number
  /** Signatures the deciding admin set requires: the previous epoch's when known, else the epoch's own. */
  threshold: number
  /** Whether valid signatures by the deciding admin set meet that threshold. */
  thresholdMet: boolean
  /** SHA-256 of the content admins sign: the same before and after signatures are added. */
  contentHash: string
  /** What the command did, in words. */
  change: string
}

export function editReport (file: string, roster: Roster, change: string, admins: AdminSet = roster.document.admins): RosterEditReport {
  return {
    file,
    federation: roster.federation,
    epoch: roster.epoch,
    signed: roster.signed,
    signatures: roster.document.signatures.length,
    threshold: admins.threshold,
    thresholdMet: countSignatures(roster, admins).valid.length >= admins.threshold,
    contentHash: roster.contentHash,
    change
  }
}

/** The edit's JSON report with `--json`, else one line: `FILE: epoch 2 (unsigned), CHANGE`. */
export function printEdit (json: boolean | undefined, file: string, roster: Roster, change: string): void {
  if (json === true) printJson(editReport(file, roster, change))
  else printLine(`${file}: ${status(roster)}, ${change}`)
}

/** Refuses an id the roster does not list, naming the closest ids it does. */
export function assertMember (file: string, roster: Roster, id: string, fix: string): void {
  if (roster.members.has(id)) return
  const close = closeMatches(id, roster.members.keys())
  const hint = close.length > 0 ? `close matches: ${close.join(', ')}` : `no close match among its ${roster.members.size} member(s)`
  throw new CliError(`${file}: no member ${JSON.stringify(id)} in roster epoch ${roster.epoch}; ${hint}`, { fix })
}

/** `epoch 2 (unsigned)` or `epoch 2 (1 signature)`. */
export function status (roster: Roster): string {
  const n = roster.document.signatures.length
  return `epoch ${roster.epoch} (${n === 0 ? 'unsigned' : `${n} signature${n === 1 ? '' : 's'}`})`
}

/** `member val-1`, `peer 12D3…`, `credential ab12…`. */
export function describeRevocation (r: Revocation): string {
  if ('member' in r) return `member ${r.member}`
  if ('peer' in r) return `peer ${r.peer}`
  return `credential ${r.credential}`
}

/** `2 of 3`. */
export function describeAdmins (admins: AdminSet): string {
  return `${admins.threshold} of ${admins.keys.length}`
}

/** The human rows of a diff: one per change, admin keys included. */
export function diffRows (diff: RosterDiff): Rows {
  const rows: Array<readonly [string, string]> = [
    ['federation', diff.federation],
    ['epochs', `${diff.fromEpoch} -> ${diff.toEpoch}`]
  ]
  for (const m of diff.added) rows.push(['added', `${m.id} (${m.roles.join(',')})`])
  for (const m of diff.removed) rows.push(['removed', `${m.id} (${m.roles.join(',')})`])
  for (const c of diff.changed) rows.push(['changed', `${c.id}: ${c.fields.map(f => `${f} ${JSON.stringify(c.before[f]) ?? '(none)'} -> ${JSON.stringify(c.after[f]) ?? '(none)'}`).join(', ')}`])
  for (const r of diff.revoked) rows.push(['revoked', describeRevocation(r)])
  for (const r of diff.unrevoked) rows.push(['unrevoked', describeRevocation(r)])
  for (const p of diff.policy) rows.push(['policy', `${p.path}: ${JSON.stringify(p.before) ?? '(none)'} -> ${JSON.stringify(p.after) ?? '(none)'}`])
  if (diff.admins !== null) {
    const { before, after } = diff.admins
    rows.push(['admins', `${describeAdmins(before)} -> ${describeAdmins(after)}`])
    for (const key of diff.adminsAdded) rows.push(['admin added', key])
    for (const key of diff.adminsRemoved) rows.push(['admin removed', key])
  }
  rows.push(['drops', diff.drops.length === 0 ? '(none)' : diff.drops.join(', ')])
  return rows
}

/** The one revocation `--member`, `--peer` or `--credential` names. */
export function revocationOf (opts: { member?: string, peer?: string, credential?: string }): Revocation {
  if (opts.member !== undefined) return { member: opts.member }
  if (opts.peer !== undefined) return { peer: opts.peer }
  if (opts.credential !== undefined) return { credential: opts.credential.toLowerCase() }
  throw new UsageError('give one of --member ID, --peer PEERID or --credential FINGERPRINT')
}
