import { isReasonCode, type ReasonCode } from '../../membership/index.ts'

/** Thrown when the membership exchange refuses a peer; libp2p keeps only the message, which carries the code. */
export class MembershipRefusedError extends Error {
  override readonly name = 'MembershipRefusedError'
  readonly code: ReasonCode
  readonly by: 'local' | 'remote'

  constructor (code: ReasonCode, by: 'local' | 'remote', detail?: string) {
    super(`fedgate: refused by ${by}: ${code}${detail !== undefined ? ` (${detail})` : ''}`)
    this.code = code
    this.by = by
  }
}

const REFUSAL_MESSAGE = /fedgate: refused by (local|remote): ([a-z-]+)/

/**
 * The reason code in an error from a dial or upgrade that fedgate refused (libp2p re-wraps the
 * encrypter's error as EncryptionFailedError and keeps its message). Undefined for other errors.
 */
export function refusalOf (err: unknown): { code: ReasonCode, by: 'local' | 'remote' } | undefined {
  const message = err instanceof Error ? err.message : String(err)
  const match = REFUSAL_MESSAGE.exec(message)
  if (match === null || !isReasonCode(match[2])) return undefined
  return { code: match[2], by: match[1] === 'remote' ? 'remote' : 'local' }
}

/** True for the errors an aborted or timed-out signal raises. */
export function isAbort (err: unknown): boolean {
  const name = err instanceof Error ? err.name : ''
  return name === 'AbortError' || name === 'TimeoutError'
}
