import type { Command } from 'commander'
import {
  adminSetFingerprint, countSignatures, formatDuration, type JsonObject, type Limits, type Member, type Revocation
} from '../../membership/index.ts'
import { loadRoster } from './files.ts'
import { printJson, printLine, printRows } from './io.ts'
import { describeAdmins, describeRevocation, status } from './roster-report.ts'

/** What `roster show --json` prints. */
export interface RosterShowReport {
  file: string
  federation: string
  epoch: number
  issuedAt: string
  /** SHA-256 of the whole signed epoch: the trust root to pin when this is the first epoch a node trusts. */
  fingerprint: string
  /** SHA-256 of the content admins sign, the same on every signed copy. */
  contentHash: string
  /** SHA-256 of the admin set: a trust root that survives epochs which keep the admins. */
  adminSetFingerprint: string
  admins: { threshold: number, keys: readonly string[] }
  /** Each signature, and whether it is valid by the epoch's own admins (the previous epoch's decide on nodes). */
  signatures: Array<{ key: string, ownAdmin: boolean, valid: boolean }>
  roles: readonly string[]
  members: readonly Member[]
  revoked: readonly Revocation[]
  /** The policy as written in the file. */
  policy: JsonObject
  /** The connection limits in force, defaults included (durations in ms). */
  limits: Limits
}

/** `fedgate roster show FILE`: the epoch in a form a person can read, or as one JSON document. */
export function registerRosterShow (roster: Command): void {
  roster.command('show')
    .description('a readable summary of a roster epoch: admins, signatures, members, revocations, policy, and its trust-root fingerprints')
    .argument('<file>', 'roster file')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { json?: boolean }) => {
      const r = await loadRoster(file)
      const admins = r.document.admins
      const { valid } = countSignatures(r, admins)
      const doc: RosterShowReport = {
        file,
        federation: r.federation,
        epoch: r.epoch,
        issuedAt: r.document.issuedAt,
        fingerprint: r.fingerprint,
        contentHash: r.contentHash,
        adminSetFingerprint: adminSetFingerprint(admins),
        admins: { threshold: admins.threshold, keys: admins.keys },
        signatures: r.document.signatures.map(s => ({ key: s.key, ownAdmin: admins.keys.includes(s.key), valid: valid.includes(s.key) })),
        roles: r.document.roles,
        members: r.document.members,
        revoked: r.document.revoked,
        policy: r.document.policy,
        limits: r.policy.limits
      }
      if (opts.json === true) {
        printJson(doc)
        return
      }
      const p = r.policy
      printRows([
        ['federation', r.federation],
        ['epoch', `${status(r).slice('epoch '.length)}, issued ${r.document.issuedAt}`],
        ['fingerprint', r.fingerprint],
        ['content hash', r.contentHash],
        ['admin set', `${describeAdmins(admins)}, fingerprint ${doc.adminSetFingerprint}`],
        ...admins.keys.map(k => ['', `${k}${valid.includes(k) ? '  signed' : ''}`] as const),
        ...doc.signatures.filter(s => !s.ownAdmin).map(s => ['', `${s.key}  signed, not in this admin set (counts for the previous epoch's admins)`] as const),
        ['roles', r.document.roles.join(', ')],
        ['members', r.members.size],
        ['revoked', r.document.revoked.length === 0 ? '(none)' : r.document.revoked.map(describeRevocation).join(', ')],
        ...[...p.protocols].map(([id, roles], i) => [i === 0 ? 'protocols' : '', `${id}: ${[...roles].join(',')}`] as const),
        ...(p.protocols.size === 0 ? [['protocols', '(none: every protocol is denied)'] as const] : []),
        ...[...p.accepts].map(([role, roles], i) => [i === 0 ? 'accepts' : '', `${role} accepts ${[...roles].join(',')}`] as const),
        ['credentials', `at most ${formatDuration(p.credentialMaxTtlMs)}, clock skew ${formatDuration(p.clockSkewMs)}`],
        ['limits', Object.entries(p.limits).map(([k, v]) => `${k}=${String(v)}`).join(' ')]
      ])
      if (r.members.size === 0) return
      printLine('')
      const rows = r.document.members.map(m => [m.id, m.org ?? '-', m.roles.join(','), m.key, String(m.maxConnections ?? '-'), (m.addrs ?? []).join(' ') || '-'])
      const headers = ['MEMBER', 'ORG', 'ROLES', 'KEY', 'MAX', 'ADDRESSES']
      const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(row => (row[i] ?? '').length)))
      for (const line of [headers, ...rows]) printLine(line.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
    })
}
