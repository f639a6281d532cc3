import type { Command } from 'commander'
import { runDemo } from '../demo/index.ts'
import { printJson, UsageError } from './io.ts'
import { port } from './options.ts'

interface DemoCommandOptions {
  keep?: string
  json?: boolean
  browser?: boolean
  port?: number
}

/** `fedgate demo [--keep DIR] [--json]`: a whole throwaway federation on 127.0.0.1; `--browser [--port N]`: a light client in a browser. */
export function registerDemo (program: Command): Command {
  return program.command('demo')
    .description('run a throwaway federation of real fedgate nodes on 127.0.0.1: admissions, refusals with reason codes, per-protocol roles, a live revocation')
    .option('--keep <dir>', 'keep the generated federation (keys, roster, credentials, node configs) in DIR, which must be new or empty')
    .option('--json', 'print one JSON summary at the end instead of the progress text')
    .option('--browser', 'serve a light-client page on 127.0.0.1 that authenticates a full node over WebSockets and refuses an impostor; runs until Ctrl-C')
    .option('--port <n>', 'with --browser: the port of the page (default: a free one)', port)
    .action(async (opts: DemoCommandOptions) => {
      if (opts.browser === true) {
        if (opts.keep !== undefined) throw new UsageError('--keep does not apply to --browser', 'drop --keep; the browser demo keeps nothing')
        // Loaded only here, so that no other command pays for the page server and the WebSocket transport.
        const { runBrowserDemo } = await import('../demo/browser/run.ts')
        const summary = await runBrowserDemo({ port: opts.port, json: opts.json })
        if (opts.json === true) printJson(summary)
        return
      }
      if (opts.port !== undefined) throw new UsageError('--port applies only to --browser', 'add --browser, or drop --port')
      const summary = await runDemo({ keep: opts.keep, quiet: opts.json === true })
      if (opts.json === true) printJson(summary)
    })
}
