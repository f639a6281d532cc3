import { TypedEventEmitter } from 'main-event'
import { readFile } from 'node:fs/promises'
import { formatDuration, issueCredential, Roster, type Credential, type SigningKey } from '../../membership/index.ts'
import { readCredentialFile, writeCredentialFile } from '../files/credential-file.ts'
import { watchFile, type FileWatch } from '../files/watch.ts'
import { logEvent } from '../events.ts'
import type { GateLog } from '../telemetry.ts'

/** A renewal that failed (roster unreadable, member revoked, disk full) is tried again after this. */
export const RENEW_RETRY_MS = 30_000
/** Renew when this fraction of a credential's lifetime is left. */
export const DEFAULT_RENEW_AT = 0.5
/** setTimeout's longest delay; a credential due later is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface CredentialRenewerInit {
  /** Credential files to keep current; each names the node (PeerId) and roles its renewal keeps. */
  readonly files: readonly string[]
  /** The member key that signs the renewals: every file must be a credential of its member. */
  readonly memberKey: SigningKey
  /** Roster file the renewals are checked against, re-read for every renewal. */
  readonly roster: string
  /** Renew once this fraction of the lifetime (or less) is left, in (0, 1). @default 0.5 */
  readonly renewAt?: number
  /** Lifetime of a renewed credential. @default the lifetime of the credential it replaces */
  readonly ttlMs?: number
  /** @default RENEW_RETRY_MS */
  readonly retryMs?: number
  readonly log: GateLog
  /** @default Date.now */
  readonly now?: () => number
}

/** What became of one credential file in a pass. */
export interface RenewalOutcome {
  readonly file: string
  readonly renewed: boolean
  /** The credential in the file afterwards (absent when it could not be read). */
  readonly credential?: Credential
  /** When it is next due. */
  readonly dueAtMs?: number
  /** Why it could not be renewed. */
  readonly error?: string
}

export interface CredentialRenewerEvents {
  renewed: CustomEvent<RenewalOutcome>
  failed: CustomEvent<RenewalOutcome>
}

/**
 * Keeps credential files current without a human: each is re-issued, for the same node and roles,
 * once `renewAt` of its lifetime is left, and written atomically where the node watches it. An
 * expired credential is renewed at once, so a node waiting for one can start.
 */
export class CredentialRenewer extends TypedEventEmitter<CredentialRenewerEvents> {
  private readonly init: CredentialRenewerInit
  private readonly renewAt: number
  private readonly now: () => number
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly watches: FileWatch[] = []
  private running = false

  constructor (init: CredentialRenewerInit) {
    super()
    const renewAt = init.renewAt ?? DEFAULT_RENEW_AT
    if (!(renewAt > 0 && renewAt < 1)) throw new RangeError('renewAt must be between 0 and 1 (exclusive)')
    this.init = init
    this.renewAt = renewAt
    this.now = init.now ?? Date.now
  }

  /** When `credential` is due: once `renewAt` of its lifetime is left. */
  dueAt (credential: Credential): number {
    return credential.notAfterMs - this.renewAt * (credential.notAfterMs - credential.notBeforeMs)
  }

  /** One pass: renews every file that is due (or `force`d), leaves the others. */
  async renewDue (opts: { force?: boolean } = {}): Promise<RenewalOutcome[]> {
    return await Promise.all(this.init.files.map(async file => await this.renewFile(file, opts.force === true)))
  }

  /** Renews what is due now, then keeps every file current until `stop()`. */
  async start (): Promise<RenewalOutcome[]> {
    this.running = true
    const outcomes = await this.renewDue()
    for (const outcome of outcomes) this.schedule(outcome)
    for (const file of this.init.files) {
      // A credential written by someone else (a manual re-issue) moves the next renewal.
      this.watches.push(watchFile(file, () => { void this.reschedule(file) }, {
        debounceMs: 25,
        onError: err => { logEvent(this.init.log, 'warn', 'credential-watch-error', { file, err: String(err) }, 'watching the credential file failed') }
      }))
    }
    return outcomes
  }

  stop (): void {
    this.running = false
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    for (const watch of this.watches.splice(0)) watch.close()
  }

  private async reschedule (file: string): Promise<void> {
    if (!this.running) return
    try {
      const credential = await readCredentialFile(file)
      this.schedule({ file, renewed: false, credential, dueAtMs: this.dueAt(credential) })
    } catch (err) {
      this.schedule({ file, renewed: false, error: err instanceof Error ? err.message : String(err) })
    }
  }

  private schedule (outcome: RenewalOutcome): void {
    if (!this.running) return
    clearTimeout(this.timers.get(outcome.file))
    const delay = outcome.dueAtMs === undefined || outcome.error !== undefined
      ? this.init.retryMs ?? RENEW_RETRY_MS
      : Math.min(MAX_TIMER_MS, Math.max(0, outcome.dueAtMs - this.now()))
    this.timers.set(outcome.file, setTimeout(() => {
      void this.renewFile(outcome.file, false).then(next => { this.schedule(next) })
    }, delay))
  }

  private async renewFile (file: string, force: boolean): Promise<RenewalOutcome> {
    let current: Credential | undefined
    try {
      current = await readCredentialFile(file)
      const now = this.now()
      if (!force && now < this.dueAt(current)) return { file, renewed: false, credential: current, dueAtMs: this.dueAt(current) }
      const roster = Roster.parse(await readFile(this.init.roster, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new Error(`${this.init.roster}: cannot read the roster (${err.code ?? String(err)})`)
      }))
      const ttlMs = Math.min(this.init.ttlMs ?? current.notAfterMs - current.notBeforeMs, roster.policy.credentialMaxTtlMs)
      const renewed = issueCredential({ roster, memberKey: this.init.memberKey, memberId: current.memberId, peer: current.peer, roles: current.roles, ttlMs, now })
      await writeCredentialFile(file, renewed)
      const outcome = { file, renewed: true, credential: renewed, dueAtMs: this.dueAt(renewed) }
      logEvent(this.init.log, 'info', 'credential-issued', {
        file, memberId: renewed.memberId, peerId: renewed.peer, roles: renewed.roles, notAfter: renewed.document.notAfter, credential: renewed.fingerprint,
        replaced: current.fingerprint, nextRenewal: new Date(outcome.dueAtMs).toISOString()
      }, `renewed the credential of ${renewed.peer} for ${formatDuration(ttlMs)}`)
      this.safeDispatchEvent('renewed', { detail: outcome })
      return outcome
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err)
      const outcome: RenewalOutcome = current === undefined ? { file, renewed: false, error } : { file, renewed: false, credential: current, error }
      logEvent(this.init.log, 'error', 'credential-issue-failed', { file, memberId: current?.memberId, peerId: current?.peer, err: error }, 'could not renew the credential; trying again later')
      this.safeDispatchEvent('failed', { detail: outcome })
      return outcome
    }
  }
}
