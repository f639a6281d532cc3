import type { ReasonCode } from '../../membership/index.ts'
import { formatHostPort, isLoopback, type AdminAddress } from './config.ts'
import { parseHostPort } from './config-values.ts'
import type { SidecarStatus } from './sidecar/index.ts'

/**
 * A credential closer than this to its expiry gets a warning line at start, once it is also in the
 * last quarter of its lifetime (EXPIRY_WARNING_LIFETIME_SHARE): a fresh 24 h credential is not due.
 */
export const EXPIRY_WARNING_MS = 24 * 3_600_000
/** The share of a credential's lifetime (notAfter − notBefore) that must remain, at most, for the warning. */
export const EXPIRY_WARNING_LIFETIME_SHARE = 0.25
/** A credential closer than this to its expiry (or expired) always gets the warning. */
export const EXPIRY_URGENT_MS = 3_600_000

export interface StartupInfo {
  peerId: string
  federation: string
  rosterEpoch: number
  memberId: string
  roles: readonly string[]
  credentialFingerprint: string
  credentialNotBeforeMs: number
  credentialNotAfterMs: number
  credentialFile: string
  listen: readonly string[]
  dial: readonly string[]
  admin: AdminAddress | null
  auditLog: string | null
  dataDir: string
  /** The roster file's refusal at start, when the node runs an epoch accepted earlier instead. */
  rosterFileRefused: { file: string, code: ReasonCode } | null
  /** The pinned trust root, or the root trusted on first use with its roster and admin-set fingerprints. */
  trustRoot: { pinned: true, federation: string, fingerprint: string } | { pinned: false, federation: string, fingerprint: string, admins: string }
  /** The sidecar's services and forward listeners (bound addresses). */
  expose: SidecarStatus['expose']
  forward: SidecarStatus['forward']
  /** Exposed protocols the roster's policy.protocols allows no role on. */
  exposeNotAllowed: readonly string[]
  now: number
}

/**
 * Whether a credential valid from `notBeforeMs` to `notAfterMs` is due for renewal at `now`: less
 * than 24 h and less than a quarter of its lifetime left, or less than 1 h left (or expired).
 */
export function credentialExpiresSoon (notBeforeMs: number, notAfterMs: number, now: number): boolean {
  const left = notAfterMs - now
  if (left < EXPIRY_URGENT_MS) return true
  return left < EXPIRY_WARNING_MS && left < (notAfterMs - notBeforeMs) * EXPIRY_WARNING_LIFETIME_SHARE
}

/** The one block the daemon prints on stderr when it is up (stdout belongs to the audit log). */
export function startupSummary (info: StartupInfo): string {
  const rows: Array<[string, string]> = [
    ['peer id', info.peerId],
    ['federation', `${info.federation}, roster epoch ${info.rosterEpoch}`],
    ['member', `${info.memberId}, roles ${info.roles.join(',')}`],
    ['credential', `${info.credentialFingerprint.slice(0, 16)} expires ${new Date(info.credentialNotAfterMs).toISOString()} (${timeLeft(info.credentialNotAfterMs - info.now)})`],
    ...info.listen.map((a, i): [string, string] => [i === 0 ? 'listen' : '', a]),
    ...(info.listen.length === 0 ? [['listen', '(none: outbound only)'] as [string, string]] : []),
    ...(info.dial.length === 0 ? [['dial', '(no reserved peers)'] as [string, string]] : info.dial.map((a, i): [string, string] => [i === 0 ? 'dial' : '', a])),
    ...info.expose.map((e, i): [string, string] => [i === 0 ? 'expose' : '', `${e.name} → ${e.target} (${e.protocol}${e.mode === 'http' ? ', http' : ''}${e.proxyProtocol ? ', PROXY v2' : ''})`]),
    ...info.forward.map((f, i): [string, string] => [i === 0 ? 'forward' : '', `${f.listen} → ${f.name} of ${f.to}`]),
    ['admin', info.admin === null ? '(disabled)' : `http://${formatHostPort(info.admin)} (GET /status /metrics /healthz, POST /roster)`],
    ['trust root', info.trustRoot.pinned
      ? `pinned: ${info.trustRoot.federation} ${info.trustRoot.fingerprint}`
      : `trusted on first use: ${info.trustRoot.federation} epoch fingerprint ${info.trustRoot.fingerprint}, admin set ${info.trustRoot.admins} (pin it with trustRoot in the config)`],
    ['audit log', info.auditLog ?? 'stdout'],
    ['data dir', info.dataDir]
  ]
  const width = Math.max(...rows.map(([label]) => label.length))
  const lines = ['fedgate node started', ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)]
  const left = info.credentialNotAfterMs - info.now
  if (info.rosterFileRefused !== null) {
    const { file, code } = info.rosterFileRefused
    lines.push(`warning: roster file ${file} refused: ${code}; running accepted epoch ${info.rosterEpoch} (the audit log's roster-refused line says why; replace the file with the roster in force or a newer fully signed epoch)`)
  }
  if (credentialExpiresSoon(info.credentialNotBeforeMs, info.credentialNotAfterMs, info.now)) {
    lines.push(`warning: the credential ${left >= 0 ? 'expires ' : ''}${timeLeft(left)}; renew it with fedgate credential issue --out ${info.credentialFile} (the running node picks up the new file)`)
  }
  for (const protocol of info.exposeNotAllowed) {
    lines.push(`warning: the roster allows no role on ${protocol}, so no member can use it yet; fedgate roster allow --protocol ${protocol} --roles R, then sign and publish`)
  }
  for (const f of info.forward) {
    if (!isLoopback(parseHostPort(f.listen, 'forward', f.listen).host)) {
      lines.push(`warning: forward ${f.name} listens on ${f.listen}, reachable from other hosts, and whoever connects uses this node's membership; bind it to 127.0.0.1 unless a firewall guards it`)
    }
  }
  if (info.admin !== null && !isLoopback(info.admin.host)) {
    lines.push(`warning: the admin endpoint listens on ${formatHostPort(info.admin)}, reachable from other hosts; bind it to 127.0.0.1 unless a firewall guards it`)
  }
  return lines.join('\n') + '\n'
}

/** `in 23h 59m`, or `expired 5m ago`. */
export function timeLeft (ms: number): string {
  return ms >= 0 ? `in ${humanDuration(ms)}` : `expired ${humanDuration(-ms)} ago`
}

/** A coarse human duration: `2d 3h`, `23h 59m`, `4m 10s`, `42s`. */
export function humanDuration (ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]]
  const parts: string[] = []
  let rest = s
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`)
    if (parts.length === 2) break
  }
  return parts.length === 0 ? '0s' : parts.join(' ')
}
