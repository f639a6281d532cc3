import { Command } from 'commander'
import { registerCredential } from './credential.ts'
import { registerDemo } from './demo.ts'
import { registerKey } from './key.ts'
import { registerKeygen } from './keygen.ts'
import { registerNodeCommands } from './node.ts'
import { registerRoster } from './roster.ts'

/**
 * The `fedgate` command with every subcommand registered. Each command group lives in its own
 * module exporting `register…(program)`; a new group is one more call here.
 */
export function buildProgram (): Command {
  const program = new Command('fedgate')
    .description('node authentication for a permissioned federation: keys, rosters, credentials')
    // Throw instead of exiting, so runCli decides the exit code (2 for usage errors) and subcommands,
    // which copy these settings when created, behave the same.
    .exitOverride()
    .showSuggestionAfterError()
  registerKeygen(program)
  registerKey(program)
  registerRoster(program)
  registerCredential(program)
  registerNodeCommands(program)
  registerDemo(program)
  return program
}
