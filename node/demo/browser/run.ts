import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DemoTarget, PageReport, TargetResult } from './contract.ts'
import { startBrowserFederation } from './federation.ts'
import { serveBrowserDemo } from './server.ts'

export interface BrowserDemoOptions {
  /** Port of the page on 127.0.0.1. @default 0 (a free port) */
  port?: number
  /** Print one JSON summary when the demo stops instead of the text (the page address goes to stderr). */
  json?: boolean
  /** Resolves when the demo should stop. @default the first SIGINT or SIGTERM */
  until?: Promise<unknown>
  /** Where the text goes. @default process.stdout */
  write?: (text: string) => void
}

export interface BrowserDemoSummary {
  readonly url: string
  readonly targets: readonly DemoTarget[]
  /** What each page that finished saw. */
  readonly reports: readonly PageReport[]
}

/**
 * `fedgate demo --browser`: starts a full node (TCP and WebSockets), an impostor and a stock libp2p
 * node on 127.0.0.1, serves the light-client page, prints its address and each page's verdicts,
 * and stops (removing its temp dir, which holds private keys) on SIGINT or SIGTERM.
 */
export async function runBrowserDemo (opts: BrowserDemoOptions = {}): Promise<BrowserDemoSummary> {
  const write = opts.write ?? ((text: string) => { process.stdout.write(text) })
  const until = opts.until ?? stopSignal()
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-browser-demo-'))
  try {
    const federation = await startBrowserFederation(dir)
    try {
      const server = await serveBrowserDemo({ federation, port: opts.port })
      try {
        const { targets } = federation.config
        if (opts.json === true) {
          process.stderr.write(`fedgate browser demo: open ${server.url} in a browser; Ctrl-C stops it\n`)
        } else {
          write('fedgate browser demo: a light client in your browser meets three nodes on 127.0.0.1 over WebSockets\n')
          for (const t of targets) write(`  ${t.name.padEnd(13)} ${t.addr}\n  ${''.padEnd(13)} ${t.description}\n`)
          write(`\nOpen ${server.url} in a browser. Ctrl-C stops the demo.\n`)
          server.addEventListener('report', evt => { write(reportText(evt.detail)) })
        }
        await until
        return { url: server.url, targets, reports: server.reports }
      } finally {
        await server.close()
      }
    } finally {
      await federation.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The lines printed for one page that finished. */
export function reportText (report: PageReport): string {
  const lines = [`\nbrowser light client ${report.memberId} [${report.roles.join(', ')}] ${report.peerId}:`]
  for (const t of report.targets) lines.push(`  ${targetLine(t)}`)
  const at = report.timings.authenticatedMs
  if (at !== null) lines.push(`  page load → full node authenticated: ${Math.round(at)} ms`)
  return lines.join('\n') + '\n'
}

function targetLine (t: TargetResult): string {
  const verdict = t.outcome === 'admitted'
    ? `✓ ${t.name}: admitted ${t.memberId ?? ''} [${(t.roles ?? []).join(', ')}]; reply: ${t.reply ?? ''}`
    : t.outcome === 'refused'
      ? `✗ ${t.name}: refused ${t.code ?? ''} (decided by ${t.by === 'local' ? 'the browser' : 'the node'})`
      : `✗ ${t.name}: error ${t.error ?? ''}`
  return `${verdict}${t.outcome === t.expect ? '' : `  (expected ${t.expect})`}`
}

async function stopSignal (): Promise<NodeJS.Signals> {
  return new Promise(resolve => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
