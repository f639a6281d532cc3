import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TypedEventEmitter } from 'main-event'
import { MalformedError } from '../../../membership/index.ts'
import { DemoError } from '../cluster.ts'
import {
  CONFIG_PATH, CREDENTIAL_PATH, LIBRARY_FILE, MAX_BODY_BYTES, PAGE_FILE, REPORT_PATH, type PageReport
} from './contract.ts'
import type { BrowserFederation } from './federation.ts'
import { demoPage } from './html.ts'

/** Everything the page may reach: this server, and WebSockets to nodes on 127.0.0.1. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self' ws://127.0.0.1:*; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"

export interface BrowserDemoServerInit {
  readonly federation: BrowserFederation
  /** The folder holding fedgate.js and demo-page.js. @default the package's own build (`fedgate/browser`) */
  readonly bundleDir?: string
  /** @default 0 (a free port) */
  readonly port?: number
}

export interface BrowserDemoEvents {
  /** A page finished and posted what it saw. */
  report: CustomEvent<PageReport>
}

/** The demo's web server on 127.0.0.1: the page, the bundles, the roster and the credential desk. */
export class BrowserDemoServer extends TypedEventEmitter<BrowserDemoEvents> {
  readonly url: string
  readonly reports: PageReport[] = []
  readonly #close: () => Promise<void>

  constructor (url: string, close: () => Promise<void>) {
    super()
    this.url = url
    this.#close = close
  }

  async close (): Promise<void> {
    await this.#close()
  }
}

/** The folder of the package's browser build; DemoError saying how to build it when it is missing. */
export function packageBundleDir (): string {
  try {
    return dirname(fileURLToPath(import.meta.resolve('fedgate/browser')))
  } catch {
    throw new DemoError('the browser build is missing; run `npm run build:browser` in the fedgate checkout (npm ci runs it too)')
  }
}

export async function serveBrowserDemo (init: BrowserDemoServerInit): Promise<BrowserDemoServer> {
  const dir = init.bundleDir ?? packageBundleDir()
  const library = await readBundle(dir, LIBRARY_FILE)
  const page = await readBundle(dir, PAGE_FILE)
  const { federation } = init
  const html = demoPage(federation.config.federation)
  let server: BrowserDemoServer | undefined
  const http = createServer((req, res) => {
    respond(req, res).catch(err => { send(res, 500, 'text/plain', `demo server: ${err instanceof Error ? err.message : String(err)}`) })
  })
  const respond = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const route = `${req.method ?? ''} ${(req.url ?? '/').split('?')[0] ?? '/'}`
    if (route === 'GET /') return send(res, 200, 'text/html; charset=utf-8', html)
    if (route === `GET /${LIBRARY_FILE}`) return send(res, 200, 'text/javascript', library)
    if (route === `GET /${PAGE_FILE}`) return send(res, 200, 'text/javascript', page)
    if (route === `GET ${CONFIG_PATH}`) return send(res, 200, 'application/json', JSON.stringify(federation.config))
    if (route === `POST ${CREDENTIAL_PATH}`) {
      const body = await readJson(req)
      const peerId = typeof body === 'object' && body !== null ? (body as { peerId?: unknown }).peerId : undefined
      if (typeof peerId !== 'string') return send(res, 400, 'text/plain', 'send {"peerId": "<the PeerId of the key the page made>"}')
      try {
        return send(res, 200, 'application/json', JSON.stringify(federation.issue(peerId).document))
      } catch (err) {
        if (err instanceof MalformedError) return send(res, 400, 'text/plain', err.message)
        throw err
      }
    }
    if (route === `POST ${REPORT_PATH}`) {
      const report = await readJson(req)
      if (typeof report !== 'object' || report === null || !Array.isArray((report as { targets?: unknown }).targets)) return send(res, 400, 'text/plain', 'send the page report as JSON')
      server?.reports.push(report as PageReport)
      server?.safeDispatchEvent('report', { detail: report as PageReport })
      return send(res, 204, 'text/plain', '')
    }
    send(res, 404, 'text/plain', 'not found')
  }
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(init.port ?? 0, '127.0.0.1', () => { resolve() })
  })
  const { port } = http.address() as AddressInfo
  server = new BrowserDemoServer(`http://127.0.0.1:${port}/`, async () => {
    http.closeAllConnections()
    await new Promise<void>(resolve => { http.close(() => { resolve() }) })
  })
  return server
}

async function readBundle (dir: string, name: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, name))
  } catch {
    throw new DemoError(`${join(dir, name)} is missing; run \`npm run build:browser\` in the fedgate checkout (npm ci runs it too)`)
  }
}

function send (res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-security-policy': CONTENT_SECURITY_POLICY })
  res.end(body)
}

/** The request body as JSON, or undefined when it is not JSON or larger than MAX_BODY_BYTES. */
async function readJson (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) return undefined
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return undefined
  }
}
