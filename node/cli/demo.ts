import type { Command } from 'commander'
import { runDemo } from '../demo/index.ts'
import { printJson } from './io.ts'

interface DemoCommandOptions {
  keep?: string
  json?: boolean
}

/** `fedgate demo [--keep DIR] [--json]`: a whole throwaway federation on 127.0.0.1. */
export function registerDemo (program: Command): Command {
  return program.command('demo')
    .description('run a throwaway federation of real fedgate nodes on 127.0.0.1: admissions, refusals with reason codes, per-protocol roles, a live revocation')
    .option('--keep <dir>', 'keep the generated federation (keys, roster, credentials, node configs) in DIR, which must be new or empty')
    .option('--json', 'print one JSON summary at the end instead of the progress text')
    .action(async (opts: DemoCommandOptions) => {
      const summary = await runDemo({ keep: opts.keep, quiet: opts.json === true })
      if (opts.json === true) printJson(summary)
    })
}
