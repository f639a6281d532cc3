import { buildProgram } from './program.ts'
import { EXIT_OK, reportError, tolerateClosedOutput } from './io.ts'

export { buildProgram } from './program.ts'
export { registerKeygen, type KeygenResult } from './keygen.ts'
export { registerRoster, type RosterVerdict, type RosterEditReport } from './roster.ts'
export type { RosterSignReport } from './roster-sign.ts'
export type { RosterShowReport } from './roster-show.ts'
export { registerCredential, type CredentialReport } from './credential.ts'
export { CliError, UsageError, EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from './io.ts'

/**
 * Runs the fedgate CLI on `argv` (the arguments after the program name) and returns the exit code:
 * 0 success, 1 refused (bad file, failed verdict), 2 usage error. Failures print one line on stderr.
 * Output into a pipe whose reader has gone (`| head`, `| grep -q`) is dropped; the exit code stays
 * the command's own.
 */
export async function runCli (argv: readonly string[]): Promise<number> {
  tolerateClosedOutput(process.stdout)
  tolerateClosedOutput(process.stderr)
  try {
    await buildProgram().parseAsync(argv, { from: 'user' })
    return EXIT_OK
  } catch (err) {
    return reportError(err)
  }
}
