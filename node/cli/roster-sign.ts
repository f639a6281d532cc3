import type { Command } from 'commander'
import {
  countSignatures, diffRosters, Roster, signRoster, verifySignature, type AdminSet, type RosterDiff, type RosterSignature
} from '../../membership/index.ts'
import { readKeyFile } from '../files/key-file.ts'
import { passphraseSource, PASSPHRASE_ENV } from './passphrase.ts'
import { editRoster, loadRoster, saveRoster } from './files.ts'
import { CliError, printJson, printLine, printRows, type Rows } from './io.ts'
import { describeAdmins, diffRows, editReport, type RosterEditReport } from './roster-report.ts'

/** What `roster sign|merge-signatures --json` print. */
export interface RosterSignReport extends RosterEditReport {
  /** The admin set the signatures were counted against: the previous epoch's (with --previous), else the epoch's own. */
  decidedBy: { epoch: number | null, threshold: number, keys: readonly string[] }
  /** What the epoch changes against --previous; null without it. */
  changes: RosterDiff | null
}

/** Labels of diff rows that say nothing about the content two copies differ in. */
const CONTEXT_ROWS = new Set(['federation', 'epochs', 'drops'])

/**
 * `fedgate roster sign|merge-signatures`: add an admin signature, or combine copies signed offline.
 * Signatures are counted against the admin set nodes will use: that of the epoch before (--previous).
 */
export function registerRosterSigning (roster: Command): void {
  roster.command('sign')
    .description('add one admin signature to the roster epoch; prints its content hash, which signatures do not change')
    .argument('<file>', 'roster file')
    .requiredOption('--key <file>', 'admin key file, plain or encrypted')
    .option('--passphrase-file <file>', `file whose first line is the passphrase of an encrypted admin key (else ${PASSPHRASE_ENV}, else a prompt)`)
    .option('--previous <file>', 'the epoch nodes run now: its admins decide, and the changes against it are shown')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { key: string, passphraseFile?: string, previous?: string, json?: boolean }) => {
      const admin = await readKeyFile(opts.key, 'admin', { passphrase: passphraseSource(opts) })
      const previous = await loadPrevious(opts.previous, file)
      const signed = await editRoster(file, r => {
        checkFollows(previous, r, opts.previous ?? '', file)
        return signRoster(r, admin)
      })
      const deciding = previous?.document.admins ?? signed.document.admins
      const notes: string[] = []
      if (!deciding.keys.includes(admin.publicKey)) {
        notes.push(previous === null
          ? 'this key is not in the epoch\'s own admin set, so it counts only toward the previous epoch\'s admins'
          : `this key is not an admin of epoch ${previous.epoch}, so nodes running it do not count this signature`)
      }
      report(opts.json, file, signed, `signed by ${admin.publicKey}`, previous, deciding, notes)
    })

  roster.command('merge-signatures')
    .description('combine copies of one epoch, each signed offline by different admins, into OUT; refuses copies whose content differs')
    .argument('<out>', 'roster file to write (may be one of the copies)')
    .argument('<copies...>', 'signed copies of the same epoch')
    .option('--previous <file>', 'the epoch nodes run now: its admins decide, and the changes against it are shown')
    .option('--json', 'print one JSON document')
    .action(async (out: string, files: string[], opts: { previous?: string, json?: boolean }) => {
      const copies = await Promise.all(files.map(async file => ({ file, roster: await loadRoster(file) })))
      const [first] = copies
      if (first === undefined) throw new CliError('roster merge-signatures: give the signed copies to combine')
      const signatures = new Map<string, RosterSignature>()
      for (const { file, roster } of copies) {
        if (roster.contentHash !== first.roster.contentHash) {
          throw new CliError(`${file}: not the same epoch content as ${first.file} (${contentDifference(first.roster, roster).join('; ')})`,
            { fix: 'every admin must sign a copy of the same unsigned file; send them that file again and merge the copies it comes back as' })
        }
        for (const s of roster.document.signatures) {
          if (!verifySignature(roster.signingMessage, s.sig, s.key)) {
            throw new CliError(`${file}: the signature by ${s.key} does not verify over this epoch`, { fix: 'ask that admin to sign a fresh copy of the file (fedgate roster sign)' })
          }
          if (!signatures.has(s.key)) signatures.set(s.key, s)
        }
      }
      const previous = await loadPrevious(opts.previous, first.file)
      checkFollows(previous, first.roster, opts.previous ?? '', first.file)
      const merged = Roster.fromJSON({ ...first.roster.document, signatures: [...signatures.values()] })
      await saveRoster(out, merged)
      report(opts.json, out, merged, `merged ${signatures.size} signature(s) from ${copies.length} cop${copies.length === 1 ? 'y' : 'ies'}`,
        previous, previous?.document.admins ?? merged.document.admins, [])
    })
}

async function loadPrevious (previous: string | undefined, file: string): Promise<Roster | null> {
  if (previous === undefined) return null
  const roster = await loadRoster(previous)
  if (previous === file) throw new CliError(`--previous ${previous}: is the file being signed`, { fix: 'pass the epoch nodes run now, e.g. the file an edit with --out left in place' })
  return roster
}

/** Refuses a --previous that the epoch cannot follow: another federation, or not an earlier epoch. */
function checkFollows (previous: Roster | null, roster: Roster, previousFile: string, file: string): void {
  if (previous === null) return
  if (previous.federation !== roster.federation) {
    throw new CliError(`--previous ${previousFile}: federation ${JSON.stringify(previous.federation)}, but ${file} is for ${JSON.stringify(roster.federation)}`, { fix: 'pass an earlier epoch of the same federation' })
  }
  if (previous.epoch >= roster.epoch) {
    throw new CliError(`--previous ${previousFile}: epoch ${previous.epoch} is not before epoch ${roster.epoch} of ${file}`, { fix: 'pass the epoch nodes run now, which this one is to follow' })
  }
}

function report (json: boolean | undefined, file: string, roster: Roster, change: string, previous: Roster | null, deciding: AdminSet, notes: string[]): void {
  const changes = previous === null ? null : diffRosters(previous, roster)
  if (json === true) {
    printJson({
      ...editReport(file, roster, change, deciding),
      decidedBy: { epoch: previous?.epoch ?? null, threshold: deciding.threshold, keys: deciding.keys },
      changes
    } satisfies RosterSignReport)
    return
  }
  const { valid, outsiders } = countSignatures(roster, deciding)
  const missing = deciding.threshold - valid.length
  const whose = previous === null ? 'its own admins' : `the admins of epoch ${previous.epoch}`
  if (previous === null && roster.epoch > 1) {
    notes.push(outsiders.length > 0
      ? `${outsiders.length} signature(s) are by keys outside its own admin set: after an admin change nodes count the previous epoch's admins, pass --previous FILE to count those`
      : 'nodes count the admins of the epoch they run: pass --previous FILE to count against those')
  }
  printLine(`${file}: epoch ${roster.epoch}, ${change}; ${valid.length} of ${deciding.threshold} required signatures by ${whose}, ${describeAdmins(deciding)} (${missing > 0 ? `needs ${missing} more` : 'threshold met'})${notes.map(n => `; ${n}`).join('')}`)
  const rows: Rows = [['content hash', `${roster.contentHash} (the same on every signed copy of this epoch)`], ...(changes === null ? [] : diffRows(changes))]
  printRows(rows)
}

/** What differs between two copies' signed content, in words. */
function contentDifference (a: Roster, b: Roster): string[] {
  const found: string[] = []
  for (const field of ['federation', 'epoch', 'issuedAt', 'roles'] as const) {
    const x = JSON.stringify(a.document[field])
    const y = JSON.stringify(b.document[field])
    if (x !== y) found.push(`${field} ${x} vs ${y}`)
  }
  for (const [label, value] of diffRows(diffRosters(a, b))) {
    if (!CONTEXT_ROWS.has(label)) found.push(`${label} ${value}`)
  }
  return found.length > 0 ? found : ['the signed content differs']
}
