import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PageReport, PageTimings } from '../../node/demo/browser/contract.ts'
import { startBrowserFederation } from '../../node/demo/browser/federation.ts'
import { serveBrowserDemo } from '../../node/demo/browser/server.ts'
import { buildBrowser, type BundleFile } from './build.ts'
import { launchChromium } from './chromium.ts'

/** One load may take this long (a cold Chromium on a busy 2-core machine takes a few seconds). */
const LOAD_TIMEOUT_MS = 60_000

export interface BrowserBenchOptions {
  /** Page loads measured after the first (cold) one. @default 20 */
  loads?: number
}

/** The steps of one page load, ms after navigation start (see PageTimings). */
type Step = keyof PageTimings

export interface StepStats {
  readonly step: Step
  readonly first: number | null
  readonly p50: number
  readonly p90: number
  readonly min: number
  readonly max: number
}

export interface BrowserBenchResult {
  readonly browser: string
  readonly loads: number
  /** The machine's 1-minute load average when the run ended (the machine is shared). */
  readonly loadAverage: number
  readonly steps: readonly StepStats[]
  /** Dial to admission of the full node (both credentials verified, Noise and the membership exchange), p50. */
  readonly handshakeP50Ms: number
  readonly bundle: { readonly library: BundleFile, readonly page: BundleFile }
}

export const STEPS: ReadonlyArray<readonly [Step, string]> = [
  ['scriptMs', 'script running (fedgate.js fetched, parsed, run)'],
  ['keyMs', 'node key made (Ed25519)'],
  ['credentialMs', 'credential issued (one POST)'],
  ['clientMs', 'light client started (libp2p)'],
  ['authenticatedMs', 'full node authenticated'],
  ['requestMs', 'first reply (/chain/headers/1.0.0)']
]

function percentile (sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)
  return sorted[Math.max(0, index)] ?? Number.NaN
}

function round (ms: number): number {
  return Math.round(ms * 10) / 10
}

/**
 * Builds the bundle, starts the demo federation and page server, and loads the light-client page
 * `loads + 1` times in one headless Chromium, each in a new tab with nothing cached (the server
 * sends no-store), reading the timings each page reports. The first load is reported on its own
 * (a cold browser); the percentiles are over the others.
 */
export async function runBrowserBench (opts: BrowserBenchOptions = {}): Promise<BrowserBenchResult> {
  const loads = opts.loads ?? 20
  if (!Number.isSafeInteger(loads) || loads < 1) throw new RangeError('loads must be a positive integer')
  const work = await mkdtemp(join(tmpdir(), 'fedgate-bench-browser-'))
  try {
    const built = await buildBrowser(join(work, 'bundle'))
    const federation = await startBrowserFederation(join(work, 'nodes'))
    try {
      const server = await serveBrowserDemo({ federation, bundleDir: built.dir })
      const chromium = await launchChromium()
      try {
        const reports: PageReport[] = []
        for (let i = 0; i <= loads; i++) {
          const page = await chromium.context.newPage()
          await page.goto(server.url)
          await page.waitForSelector('body[data-state]', { timeout: LOAD_TIMEOUT_MS })
          const state = await page.getAttribute('body', 'data-state')
          const report = await page.evaluate(() => (globalThis as { fedgateReport?: PageReport }).fedgateReport)
          if (state !== 'passed' || report === undefined) throw new Error(`page load ${i + 1} did not pass (${String(state)}): ${await page.innerText('body')}`)
          reports.push(report)
          await page.close()
        }
        const [first, ...rest] = reports
        const steps = STEPS.map(([step]): StepStats => {
          const values = rest.map(r => r.timings[step]).filter((v): v is number => v !== null).sort((a, b) => a - b)
          return { step, first: first?.timings[step] ?? null, p50: round(percentile(values, 0.5)), p90: round(percentile(values, 0.9)), min: round(values[0] ?? Number.NaN), max: round(values.at(-1) ?? Number.NaN) }
        })
        const handshakes = rest.map(r => (r.timings.authenticatedMs ?? Number.NaN) - r.timings.clientMs).sort((a, b) => a - b)
        const version = chromium.context.browser()?.version() ?? 'unknown version'
        return { browser: `Chromium ${version}`, loads, loadAverage: round(loadavg()[0] ?? Number.NaN), steps, handshakeP50Ms: round(percentile(handshakes, 0.5)), bundle: { library: built.library, page: built.page } }
      } finally {
        await chromium.close()
        await server.close()
      }
    } finally {
      await federation.stop()
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

function table (rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map(row => (row[c] ?? '').length))) ?? []
  return rows.map(row => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)).join('  ').trimEnd()).join('\n')
}

const fmt = (n: number | null): string => n === null || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })
const kb = (bytes: number): string => (bytes / 1024).toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })

/** The two tables the benchmark prints. */
export function renderBrowserBench (result: BrowserBenchResult): string {
  const label = new Map(STEPS)
  const stepRows = [
    ['ms after page load', 'p50', 'p90', 'min', 'max', 'first load'],
    ...result.steps.map(s => [label.get(s.step) ?? s.step, fmt(s.p50), fmt(s.p90), fmt(s.min), fmt(s.max), fmt(s.first)])
  ]
  const { library, page } = result.bundle
  const bundleRows = [
    ['bundle', 'bytes', 'KiB', 'gzip bytes', 'gzip KiB'],
    [library.name, String(library.bytes), kb(library.bytes), String(library.gzipBytes), kb(library.gzipBytes)],
    [page.name, String(page.bytes), kb(page.bytes), String(page.gzipBytes), kb(page.gzipBytes)]
  ]
  return [
    `fedgate browser light client: ${result.browser} headless, page and nodes on 127.0.0.1, ${result.loads} page loads after 1 cold one, each in a new tab with nothing cached (load average ${fmt(result.loadAverage)})`,
    '',
    table(stepRows),
    `dial to full node admitted (Noise + membership exchange, both credentials verified), p50: ${fmt(result.handshakeP50Ms)} ms`,
    '',
    table(bundleRows)
  ].join('\n')
}
