import { CommanderError } from 'commander'
import {
  CredentialIssueError, InvalidOptionError, KeyFileError, MalformedError, RosterEditError, RosterRefusedError, reasonFix
} from '../../membership/index.ts'

/** The command succeeded. */
export const EXIT_OK = 0
/** The command ran and refused: a bad or missing file, a failed verdict, an impossible edit. */
export const EXIT_REFUSED = 1
/** The command line is wrong: unknown or missing option, bad option value. */
export const EXIT_USAGE = 2

/** Commander exit codes that mean help or version was printed as asked. */
const COMMANDER_SUCCESS = new Set(['commander.helpDisplayed', 'commander.version'])

/** Thrown when a command fails for a reason the operator can act on; `fix` says how. */
export class CliError extends Error {
  override readonly name: string = 'CliError'
  readonly exitCode: number
  readonly fix: string | undefined

  constructor (message: string, opts: { exitCode?: number, fix?: string } = {}) {
    super(message)
    this.exitCode = opts.exitCode ?? EXIT_REFUSED
    this.fix = opts.fix
  }
}

/** Thrown when the command line is wrong in a way commander cannot see (e.g. one of several options). */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError'

  constructor (message: string, fix?: string) {
    super(message, fix === undefined ? { exitCode: EXIT_USAGE } : { exitCode: EXIT_USAGE, fix })
  }
}

/**
 * Names `file` as the source of a membership error, adding the operator's fix from the reason
 * table. Errors that already name their file (KeyFileError, CliError) and unknown errors pass through.
 */
export function attributeTo (file: string, err: unknown): unknown {
  if (err instanceof MalformedError) return new CliError(`${file}: ${err.message}`, { fix: reasonFix('malformed') })
  if (err instanceof RosterRefusedError) return new CliError(`${file}: ${err.message}`, { fix: reasonFix(err.code) })
  if (err instanceof RosterEditError || err instanceof CredentialIssueError) return new CliError(`${file}: ${err.message}`)
  return err
}

/**
 * Like `attributeTo`, for an object built from option values: a format error then comes from an
 * option, so it is a usage error, and nothing was written.
 */
export function attributeToOptions (file: string, err: unknown): unknown {
  if (err instanceof MalformedError) return new UsageError(`${file}: ${err.message}`, 'correct that option value; the file was not written')
  return attributeTo(file, err)
}

export interface ErrorReport {
  /** One line, without a trailing newline. */
  readonly line: string
  readonly exitCode: number
}

/** The one stderr line and exit code for a failure. Never a stack trace: every error becomes one line. */
export function describeError (err: unknown): ErrorReport {
  if (err instanceof CliError) return report(err.message, err.exitCode, err.fix)
  if (err instanceof InvalidOptionError) return report(err.message, EXIT_USAGE)
  if (err instanceof MalformedError) return report(err.message, EXIT_REFUSED, reasonFix('malformed'))
  if (err instanceof RosterRefusedError) return report(err.message, EXIT_REFUSED, reasonFix(err.code))
  if (err instanceof Error) return report(err.message, EXIT_REFUSED)
  return report(String(err), EXIT_REFUSED)
}

function report (message: string, exitCode: number, fix?: string): ErrorReport {
  const text = fix === undefined ? message : `${message}; fix: ${fix}`
  return { line: `error: ${text.replace(/\s*\n\s*/g, ' ').trim()}`, exitCode }
}

/**
 * Prints the error line for `err` on stderr and returns the exit code. Commander has already
 * printed its own usage errors (and help), so for those only the exit code is decided here.
 */
export function reportError (err: unknown): number {
  if (err instanceof CommanderError) {
    return COMMANDER_SUCCESS.has(err.code) ? EXIT_OK : EXIT_USAGE
  }
  const { line, exitCode } = describeError(err)
  process.stderr.write(line + '\n')
  return exitCode
}

/**
 * Makes a reader that stopped reading (`fedgate … | head -1`, `| grep -q`) a non-event: writes to
 * `stream` after its pipe closed are dropped instead of crashing the process with EPIPE, so the
 * command finishes (cleaning up what it made) and exits with its own code. Other write errors are
 * left as they were.
 */
export function tolerateClosedOutput (stream: NodeJS.WriteStream): void {
  if (!stream.listeners('error').includes(ignoreClosedPipe)) stream.on('error', ignoreClosedPipe)
}

function ignoreClosedPipe (err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err
}

/** Human output rows: label, value. */
export type Rows = ReadonlyArray<readonly [string, string | number]>

/** Prints `rows` as aligned `label  value` lines. */
export function printRows (rows: Rows): void {
  const width = Math.max(0, ...rows.map(([label]) => label.length))
  process.stdout.write(rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n') + '\n')
}

export function printLine (text: string): void {
  process.stdout.write(text + '\n')
}

/** Prints exactly one JSON document on stdout. */
export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** Prints `doc` as JSON with `--json`, otherwise the human rows. */
export function printResult (json: boolean | undefined, doc: unknown, rows: () => Rows): void {
  if (json === true) printJson(doc)
  else printRows(rows())
}
