import type { Command } from 'commander'
import { InvalidArgumentError } from 'commander'
import { formatDuration } from '../../membership/index.ts'
import { readKeyFile } from '../files/key-file.ts'
import { createAuditLog } from '../log.ts'
import { CredentialRenewer, DEFAULT_RENEW_AT, type RenewalOutcome } from '../renewer/renewer.ts'
import { CliError, printResult, UsageError, type Rows } from './io.ts'
import { durationMs } from './options.ts'
import { passphraseSource, PASSPHRASE_ENV } from './passphrase.ts'

interface RenewOptions {
  memberKey: string
  roster: string
  renewAt: number
  ttl?: number
  watch?: boolean
  force?: boolean
  passphraseFile?: string
  json?: boolean
}

/** What `credential renew --json` prints (one pass). */
export interface RenewReport {
  file: string
  renewed: boolean
  notAfter?: string
  nextRenewal?: string
  fingerprint?: string
  error?: string
}

/** `fedgate credential renew FILE… --member-key FILE --roster FILE [--renew-at F] [--ttl D] [--watch]` */
export function registerRenew (credential: Command): Command {
  return credential.command('renew')
    .description('re-issue credentials (same node, same roles) once a fraction of their lifetime is left; --watch keeps doing it')
    .argument('<file...>', 'credential files of the member\'s nodes, where the nodes read them (replaced atomically)')
    .requiredOption('--member-key <file>', 'member key file that signs the renewals (plain or encrypted)')
    .requiredOption('--roster <file>', 'roster file the renewals are checked against (re-read for each renewal)')
    .option('--renew-at <fraction>', `renew when this fraction of the lifetime is left, between 0 and 1 (default ${DEFAULT_RENEW_AT})`, fraction, DEFAULT_RENEW_AT)
    .option('--ttl <duration>', 'lifetime of a renewed credential (default that of the credential it replaces), at most the roster policy credentialMaxTtl', durationMs)
    .option('--watch', 'keep running: renew each credential when it is due, until SIGTERM or SIGINT; logs one JSON line per renewal')
    .option('--force', 'renew every file now, due or not (not with --watch)')
    .option('--passphrase-file <file>', `file whose first line is the passphrase of an encrypted member key (else ${PASSPHRASE_ENV}, else a prompt)`)
    .option('--json', 'print one JSON document (one pass)')
    .action(async (files: string[], opts: RenewOptions) => {
      if (opts.watch === true && opts.force === true) throw new UsageError('--force renews once; it does not go with --watch', 'drop one of them')
      const memberKey = await readKeyFile(opts.memberKey, 'member', { passphrase: passphraseSource(opts) })
      const init = { files, memberKey, roster: opts.roster, renewAt: opts.renewAt, ...(opts.ttl !== undefined ? { ttlMs: opts.ttl } : {}) }
      if (opts.watch === true) {
        await watch(new CredentialRenewer({ ...init, log: createAuditLog() }))
        return
      }
      const renewer = new CredentialRenewer({ ...init, log: createAuditLog({ level: 'silent' }) })
      const outcomes = await renewer.renewDue({ force: opts.force === true })
      printResult(opts.json, outcomes.map(report), () => outcomes.map(row))
      const failed = outcomes.filter(o => o.error !== undefined)
      if (failed.length > 0) throw new CliError(`${failed.length} of ${outcomes.length} credential(s) not renewed: ${failed.map(o => o.error).join('; ')}`)
    })
}

/** Runs the renewer until SIGTERM or SIGINT. */
async function watch (renewer: CredentialRenewer): Promise<void> {
  await renewer.start()
  await new Promise<void>(resolve => {
    const stop = (): void => {
      process.off('SIGTERM', stop)
      process.off('SIGINT', stop)
      renewer.stop()
      resolve()
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}

function report (o: RenewalOutcome): RenewReport {
  return {
    file: o.file,
    renewed: o.renewed,
    ...(o.credential !== undefined ? { notAfter: o.credential.document.notAfter, fingerprint: o.credential.fingerprint } : {}),
    ...(o.dueAtMs !== undefined && o.error === undefined ? { nextRenewal: new Date(o.dueAtMs).toISOString() } : {}),
    ...(o.error !== undefined ? { error: o.error } : {})
  }
}

function row (o: RenewalOutcome): Rows[number] {
  if (o.error !== undefined) return [o.file, `not renewed: ${o.error}`]
  const notAfter = o.credential?.document.notAfter ?? '?'
  const next = o.dueAtMs === undefined ? '' : `, next renewal ${new Date(o.dueAtMs).toISOString()} (in ${formatDuration(Math.max(0, Math.round((o.dueAtMs - Date.now()) / 1000)) * 1000)})`
  return [o.file, `${o.renewed ? 'renewed' : 'not due'}: valid until ${notAfter}${next}`]
}

function fraction (value: string): number {
  const n = Number(value)
  if (!/^0?\.\d+$/.test(value) || !(n > 0 && n < 1)) throw new InvalidArgumentError('expected a fraction between 0 and 1, e.g. 0.5')
  return n
}
