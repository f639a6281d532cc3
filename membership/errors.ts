import type { ReasonCode } from './reasons.ts'

/** Thrown when input does not match its format: the `path` names the offending field. */
export class MalformedError extends Error {
  override readonly name = 'MalformedError'
  readonly code = 'malformed'
  readonly path: string

  constructor (path: string, message: string) {
    super(`${path}: ${message}`)
    this.path = path
  }
}

/** Thrown when a key file is missing, unreadable, too open or of the wrong kind. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError'
  readonly file: string

  constructor (file: string, message: string) {
    super(`${file}: ${message}`)
    this.file = file
  }
}

/** Thrown when a roster epoch is refused (stale, under-signed, wrong federation, malformed). */
export class RosterRefusedError extends Error {
  override readonly name = 'RosterRefusedError'
  readonly code: ReasonCode
  /** The message without the leading reason code. */
  readonly detail: string

  constructor (code: ReasonCode, detail: string) {
    super(`${code}: ${detail}`)
    this.code = code
    this.detail = detail
  }
}

/** Thrown when a roster edit is impossible (duplicate member, unknown role, missing member). */
export class RosterEditError extends Error {
  override readonly name = 'RosterEditError'
}

/** Thrown when a credential cannot be issued (member unknown, key mismatch, TTL above policy). */
export class CredentialIssueError extends Error {
  override readonly name = 'CredentialIssueError'
}

/** Thrown when an option or setting has an invalid value: `option` names it. */
export class InvalidOptionError extends Error {
  override readonly name = 'InvalidOptionError'
  readonly option: string

  constructor (option: string, message: string) {
    super(`${option}: ${message}`)
    this.option = option
  }
}
