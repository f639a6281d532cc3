import { Option, type Command } from 'commander'
import {
  CredentialIssueError, DEFAULT_CREDENTIAL_TTL_MS, formatDuration, isoTime, issueCredential, reasonFix, verifyCredential, type Credential, type CredentialDocument,
  type CredentialVerdict
} from '../../membership/index.ts'
import { readKeyFile } from '../files/key-file.ts'
import { attributeTo, attributeToOptions, CliError, printResult, UsageError, type Rows } from './io.ts'
import { loadCredential, loadRoster, saveCredential } from './files.ts'
import { durationMs, isoInstant, peerId, roleList } from './options.ts'
import { passphraseSource, PASSPHRASE_ENV } from './passphrase.ts'
import { registerRenew } from './renew.ts'

/** What `credential inspect --json` prints; `verdict` and `fix` only when checked against a roster. */
export interface CredentialReport extends CredentialDocument {
  fingerprint: string
  verdict?: 'ok' | CredentialVerdict
  fix?: string
  /** When the verdict depends on the roster's clockSkew: how far outside its window the credential is, and whether the skew covers it. */
  clockSkew?: string
}

interface IssueOptions {
  memberKey: string
  member: string
  nodeKey?: string
  peer?: string
  roles?: string[]
  ttl?: number
  roster: string
  out: string
  json?: boolean
  passphraseFile?: string
  notBefore?: number
  force?: boolean
}

/** `fedgate credential issue|inspect`. Returns the `credential` command. */
export function registerCredential (program: Command): Command {
  const credential = program.command('credential').description('issue and inspect membership credentials')

  credential.command('issue')
    .description('sign a credential binding a node key to a member, checked against the roster')
    .requiredOption('--member-key <file>', 'member key file (signs the credential)')
    .requiredOption('--member <id>', 'member id in the roster')
    .addOption(new Option('--node-key <file>', 'node key file the credential binds').conflicts('peer'))
    .addOption(new Option('--peer <peerId>', 'PeerId the credential binds, when the node key is elsewhere').argParser(peerId).conflicts('nodeKey'))
    .option('--roles <r[,r]>', 'roles to claim, a subset of the member\'s (default all of them)', roleList)
    .option('--ttl <duration>', 'validity, e.g. 24h, at most the roster policy credentialMaxTtl (default 24h)', durationMs)
    .option('--not-before <time>', 'start of validity, an ISO-8601 time with a zone such as 2026-12-03T00:00:00Z (default now)', isoInstant)
    .option('--force', 'issue even for a member the roster does not list (give --roles) or revokes, or a revoked node')
    .requiredOption('--roster <file>', 'roster file listing the member')
    .requiredOption('--out <file>', 'credential file to write (replaced atomically)')
    .option('--passphrase-file <file>', `file whose first line is the passphrase of an encrypted member key (else ${PASSPHRASE_ENV}, else a prompt)`)
    .option('--json', 'print one JSON document')
    .action(async (opts: IssueOptions) => {
      const issued = await issue(opts)
      await saveCredential(opts.out, issued)
      const report = { ...issued.document, fingerprint: issued.fingerprint, file: opts.out }
      printResult(opts.json, report, () => [...credentialRows(issued), ['file', opts.out]])
    })

  credential.command('inspect')
    .description('print a credential\'s fields and fingerprint; with --roster, its verdict (exit 1 unless ok)')
    .argument('<file>', 'credential file')
    .option('--roster <file>', 'roster to check the credential against')
    .option('--peer <peerId>', 'PeerId presenting the credential (default the one it names)', peerId)
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { roster?: string, peer?: string, json?: boolean }) => {
      if (opts.peer !== undefined && opts.roster === undefined) {
        throw new UsageError('credential inspect: --peer needs --roster to check the credential against')
      }
      const cred = await loadCredential(file)
      const report: CredentialReport = { ...cred.document, fingerprint: cred.fingerprint }
      const print = (): void => printResult(opts.json, report, () => [
        ...credentialRows(cred),
        ...(report.verdict !== undefined ? [['verdict', report.verdict] as const] : []),
        ...(report.clockSkew !== undefined ? [['clockSkew', report.clockSkew] as const] : [])
      ])
      if (opts.roster === undefined) {
        print()
        return
      }
      const roster = await loadRoster(opts.roster)
      const now = Date.now()
      const failed = verifyCredential(cred, opts.peer ?? cred.peer, roster, now)
      report.verdict = failed ?? 'ok'
      if (failed !== null) report.fix = reasonFix(failed)
      const skewNote = clockSkewNote(cred, roster.policy.clockSkewMs, now, failed)
      if (skewNote !== undefined) report.clockSkew = skewNote
      print()
      if (failed !== null) {
        throw new CliError(`${file}: ${failed} under roster ${opts.roster}${skewNote === undefined ? '' : ` (${skewNote})`}`, { fix: reasonFix(failed) })
      }
    })

  registerRenew(credential)
  return credential
}

async function issue (opts: IssueOptions): Promise<Credential> {
  const nodePeer = opts.nodeKey !== undefined ? (await readKeyFile(opts.nodeKey, 'node')).peerId : opts.peer
  if (nodePeer === undefined) throw new UsageError('credential issue: give --node-key FILE or --peer PEERID')
  const roster = await loadRoster(opts.roster)
  const ttlMs = opts.ttl ?? Math.min(DEFAULT_CREDENTIAL_TTL_MS, roster.policy.credentialMaxTtlMs)
  if (opts.notBefore !== undefined && opts.notBefore + ttlMs <= Date.now()) {
    throw new UsageError(`--not-before ${isoTime(opts.notBefore)} with --ttl ${formatDuration(ttlMs)} ends in the past; the credential would be expired at once`, 'give a later --not-before or a longer --ttl')
  }
  const memberKey = await readKeyFile(opts.memberKey, 'member', { passphrase: passphraseSource(opts) })
  const maxTtlMs = roster.policy.credentialMaxTtlMs
  if (opts.ttl !== undefined && opts.ttl > maxTtlMs) {
    throw new CliError(`${opts.roster}: --ttl ${formatDuration(opts.ttl)} is above the roster policy credentialMaxTtl of ${formatDuration(maxTtlMs)}`,
      { fix: `issue it with --ttl ${formatDuration(maxTtlMs)} or less` })
  }
  try {
    return issueCredential({
      roster,
      memberKey,
      memberId: opts.member,
      peer: nodePeer,
      ...(opts.roles !== undefined ? { roles: opts.roles } : {}),
      ...(opts.ttl !== undefined ? { ttlMs: opts.ttl } : {}),
      ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
      force: opts.force === true
    })
  } catch (err) {
    throw err instanceof CredentialIssueError ? attributeTo(opts.roster, err) : attributeToOptions(opts.out, err)
  }
}

function credentialRows (cred: Credential): Rows {
  const doc = cred.document
  return [
    ['federation', doc.federation],
    ['memberId', doc.memberId],
    ['peer', doc.peer],
    ['roles', doc.roles.join(',')],
    ['notBefore', doc.notBefore],
    ['notAfter', `${doc.notAfter} (valid for ${formatDuration(cred.notAfterMs - cred.notBeforeMs)})`],
    ['serial', doc.serial],
    ['fingerprint', cred.fingerprint]
  ]
}

/**
 * Explains a verdict that the roster's clockSkew decides: a credential outside its validity window
 * by this clock, accepted because the skew covers the gap, or refused because it does not.
 */
export function clockSkewNote (cred: Credential, skewMs: number, now: number, verdict: CredentialVerdict | null): string | undefined {
  const skew = `the ${approximately(skewMs)} clockSkew of the roster`
  if (now >= cred.notAfterMs) {
    const ago = `expired ${approximately(now - cred.notAfterMs)} ago (${cred.document.notAfter})`
    if (verdict === null) return `${ago}; accepted within ${skew}, until ${isoTime(cred.notAfterMs + skewMs)}`
    if (verdict === 'expired') return `${ago}, beyond ${skew}`
    return undefined
  }
  if (now < cred.notBeforeMs) {
    const early = `valid only from ${cred.document.notBefore} (in ${approximately(cred.notBeforeMs - now)})`
    if (verdict === null) return `${early}; accepted now within ${skew}`
    if (verdict === 'not-yet-valid') return `${early}, beyond ${skew}`
  }
  return undefined
}

/** `45 s`, `3 min`, `2 h 5 min`: rounded for a human. */
function approximately (ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 120) return `${seconds} s`
  const minutes = Math.round(ms / 60_000)
  if (minutes < 120) return `${minutes} min`
  return `${Math.floor(minutes / 60)} h${minutes % 60 === 0 ? '' : ` ${minutes % 60} min`}`
}
