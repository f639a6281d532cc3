import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { formatDuration, reasonFix, verifyCredential, type Credential, type ReasonCode } from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import { CredentialFileError, readCredentialFile } from '../files/credential-file.ts'
import type { RosterStore } from '../files/roster-store.ts'
import { watchFile } from '../files/watch.ts'
import type { Logger } from '../log.ts'
import { formatHostPort, type AdminAddress } from './config.ts'
import { AdminListenError } from './errors.ts'

/** Own-credential verdicts that a renewed credential written to the file fixes: the node waits for one. */
export const WAITABLE_VERDICTS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['expired', 'not-yet-valid', 'unreadable', 'malformed'])

/** What `/healthz` (and every other path) answers while the node waits: 503. */
export interface WaitingDocument {
  ok: false
  waiting: 'credential'
  reason: ReasonCode
  credentialFile: string
  fix: string
}

/** Thrown when the node is asked to stop (SIGTERM) while it waits for its credential. */
export class CredentialWaitAbortedError extends Error {
  override readonly name = 'CredentialWaitAbortedError'
}

export interface CredentialWaitInit {
  readonly file: string
  readonly peerId: string
  readonly store: RosterStore
  /** Where to answer 503 while waiting; null: no admin endpoint. */
  readonly admin: AdminAddress | null
  readonly log: Logger
  readonly stderr: NodeJS.WritableStream
  readonly signal?: AbortSignal
  /** @default Date.now */
  readonly clock?: () => number
}

/**
 * Waits until the credential file holds a credential that verifies for this node under the accepted
 * roster. Returns at once when it already does, or when its verdict is one a renewal cannot fix
 * (the start then fails as usual). Meanwhile the admin address answers 503; the address it was
 * bound to (port 0 picks one) is returned, for the admin endpoint to take over.
 */
export async function waitForCredential (init: CredentialWaitInit): Promise<AdminAddress | null> {
  const clock = init.clock ?? Date.now
  let verdict = await ownVerdict(init, clock)
  if (verdict.code === null || !WAITABLE_VERDICTS.has(verdict.code)) return init.admin
  const server = init.admin === null ? null : await listen(init.admin, () => waiting(init.file, verdict.code ?? 'expired'))
  const bound = server?.address ?? null
  const announce = (): void => {
    const code = verdict.code ?? 'expired'
    logEvent(init.log, 'warn', 'waiting-for-credential', { reason: code, credentialFile: init.file }, 'waiting for a valid credential before starting')
    init.stderr.write(`fedgate: own credential ${describe(verdict, code, init, clock)}; waiting for a renewed credential in ${init.file}` +
      `${bound === null ? '' : ` (${formatHostPort(bound)}/healthz answers 503 meanwhile)`}\n`)
  }
  announce()
  try {
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      let checking = false
      let again = false
      const done = (err?: Error): void => {
        clearTimeout(timer)
        watch.close()
        init.store.removeEventListener('roster', check)
        init.signal?.removeEventListener('abort', aborted)
        if (err === undefined) resolve()
        else reject(err)
      }
      const check = (): void => {
        if (checking) { again = true; return }
        checking = true
        void ownVerdict(init, clock).then(next => {
          checking = false
          if (next.code === null) { done(); return }
          const changed = next.code !== verdict.code
          verdict = next
          if (changed) announce()
          clearTimeout(timer)
          // A credential not valid yet becomes valid by time passing alone.
          if (next.code === 'not-yet-valid' && next.credential !== undefined) {
            timer = setTimeout(check, Math.max(0, next.credential.notBeforeMs - init.store.current.policy.clockSkewMs - clock()))
          }
          if (again) { again = false; check() }
        })
      }
      const aborted = (): void => { done(new CredentialWaitAbortedError('stopped while waiting for a credential')) }
      const watch = watchFile(init.file, check, { debounceMs: 25, onError: () => {} })
      init.store.addEventListener('roster', check)
      init.signal?.addEventListener('abort', aborted)
      if (init.signal?.aborted === true) aborted()
      else check()
    })
  } finally {
    await server?.close()
  }
  logEvent(init.log, 'info', 'credential-renewal', { reason: 'ok', local: true, credentialFile: init.file }, 'a valid credential arrived; starting')
  return bound
}

interface Verdict {
  readonly code: ReasonCode | null
  readonly credential?: Credential
}

async function ownVerdict (init: CredentialWaitInit, clock: () => number): Promise<Verdict> {
  let credential: Credential
  try {
    credential = await readCredentialFile(init.file)
  } catch (err) {
    if (err instanceof CredentialFileError) return { code: err.code }
    throw err
  }
  return { code: verifyCredential(credential, init.peerId, init.store.current, clock()), credential }
}

function describe (verdict: Verdict, code: ReasonCode, init: CredentialWaitInit, clock: () => number): string {
  const c = verdict.credential
  const ago = (ms: number): string => ms < 60_000
    ? formatDuration(Math.max(1, Math.round(ms / 1000)) * 1000)
    : formatDuration(Math.round(ms / 60_000) * 60_000)
  if (code === 'expired' && c !== undefined) return `expired ${ago(clock() - c.notAfterMs)} ago (${c.document.notAfter})`
  if (code === 'not-yet-valid' && c !== undefined) return `is not valid until ${c.document.notBefore}`
  if (code === 'unreadable') return `file ${init.file} is missing or unreadable`
  return `is ${code}`
}

function waiting (file: string, reason: ReasonCode): WaitingDocument {
  return { ok: false, waiting: 'credential', reason, credentialFile: file, fix: `write a valid credential to ${file} (fedgate credential renew, or credential issue); ${reasonFix(reason)}` }
}

/** A stand-in admin endpoint: 503 and the waiting document on every request. */
async function listen (at: AdminAddress, body: () => WaitingDocument): Promise<{ address: AdminAddress, close: () => Promise<void> }> {
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(503, { 'content-type': 'application/json', connection: 'close', 'retry-after': '5' })
    res.end(JSON.stringify(body()) + '\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { reject(new AdminListenError(formatHostPort(at), err.code ?? err.message)) })
    server.listen(at.port, at.host, () => { resolve() })
  })
  const { port } = server.address() as AddressInfo
  return {
    address: { host: at.host, port },
    close: async () => {
      const closed = new Promise<void>(resolve => { server.close(() => { resolve() }) })
      server.closeAllConnections()
      await closed
    }
  }
}
