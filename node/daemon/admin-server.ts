import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { MAX_ROSTER_BYTES, reasonFix, type ReasonCode } from '../../membership/index.ts'
import type { FederationNode } from '../federation-node.ts'
import type { Refusal } from '../types.ts'
import { formatHostPort, type AdminAddress } from './config.ts'
import { AdminListenError } from './errors.ts'
import type { SidecarStatus } from './sidecar/index.ts'

/** How many of the node's most recent refusals `/status` lists. */
export const STATUS_REFUSALS = 50
/** Requests that take longer than this (a stalled client) are cut. */
const REQUEST_TIMEOUT_MS = 60_000

/** What `GET /status` returns (and `fedgate node status --json` prints). Times are ISO-8601 UTC. */
export interface StatusDocument {
  peerId: string
  federation: string
  rosterEpoch: number
  memberId: string
  roles: string[]
  credential: { fingerprint: string, notAfter: string, expiresInSeconds: number }
  listen: string[]
  startedAt: string
  peers: Array<{ peerId: string, memberId: string, roles: string[], direction: 'inbound' | 'outbound', since: string, remoteAddr: string }>
  refusals: Array<Omit<Refusal, 'at'> & { at: string }>
  /** Sidecar: the services this node exposes, its forward listeners (bound addresses), and the open tunnels. */
  expose: SidecarStatus['expose']
  forward: SidecarStatus['forward']
  tunnels: SidecarStatus['tunnels']
}

export interface AdminServerInit {
  /** @default now */
  startedAt?: number
  /** The sidecar whose services and tunnels `/status` lists. */
  sidecar?: { status (): SidecarStatus } | null
}

/** What `GET /healthz` returns: 200 with `ok: true`, or 503 with the reason code and the fix. */
export type HealthDocument = { ok: true } | { ok: false, reason: ReasonCode, fix: string }

/**
 * What `POST /roster` returns: 200 when the epoch is in force (`alreadyInForce` when it was before
 * the request, so nothing changed), 409 with the refusal otherwise.
 */
export type PublishDocument =
  | { accepted: true, epoch: number, alreadyInForce: boolean }
  | { accepted: false, code: ReasonCode, message: string, fix: string }

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void

/**
 * The node's local admin endpoint (plain node:http): `GET /status`, `GET /metrics`,
 * `GET /healthz` and `POST /roster`. It binds to loopback unless the operator chose otherwise.
 */
export class AdminServer {
  readonly address: AdminAddress
  private readonly server: Server
  private readonly node: FederationNode
  private readonly startedAt: number
  private readonly sidecar: { status (): SidecarStatus } | null
  private stopping = false

  private constructor (server: Server, node: FederationNode, address: AdminAddress, init: AdminServerInit) {
    this.server = server
    this.node = node
    this.address = address
    this.startedAt = init.startedAt ?? Date.now()
    this.sidecar = init.sidecar ?? null
  }

  /** Binds the endpoint; port 0 picks a free port (see `address`). Rejects with AdminListenError. */
  static async listen (node: FederationNode, at: AdminAddress, init: AdminServerInit = {}): Promise<AdminServer> {
    const server = createServer()
    server.requestTimeout = REQUEST_TIMEOUT_MS
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => { reject(new AdminListenError(formatHostPort(at), err.code ?? err.message)) })
      server.listen(at.port, at.host, () => { resolve() })
    })
    const bound = server.address() as AddressInfo
    const admin = new AdminServer(server, node, { host: at.host, port: bound.port }, init)
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      // One request per connection: the callers (CLI, scrapers, probes) come seldom, and a CLI
      // process would otherwise wait for an idle keep-alive socket to time out before exiting.
      res.setHeader('connection', 'close')
      void admin.serve(req, res)
    })
    return admin
  }

  /** From now on `/healthz` answers 503 `shutdown`, so a load balancer stops sending work here. */
  markStopping (): void {
    this.stopping = true
  }

  async close (): Promise<void> {
    this.stopping = true
    const closed = new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
    this.server.closeAllConnections()
    await closed
  }

  status (): StatusDocument {
    const node = this.node
    const credential = node.credential
    const now = Date.now()
    return {
      peerId: node.peerId,
      federation: node.roster.federation,
      rosterEpoch: node.roster.epoch,
      memberId: credential.memberId,
      roles: [...node.localRoles],
      credential: {
        fingerprint: credential.fingerprint,
        notAfter: credential.document.notAfter,
        expiresInSeconds: Math.floor((credential.notAfterMs - now) / 1000)
      },
      listen: node.getMultiaddrs().map(String),
      startedAt: iso(this.startedAt),
      peers: node.peers().map(p => ({ peerId: p.peerId, memberId: p.memberId, roles: [...p.roles], direction: p.direction, since: iso(p.since), remoteAddr: p.remoteAddr })),
      refusals: node.refusals().slice(-STATUS_REFUSALS).map(r => ({ ...r, at: iso(r.at) })),
      ...(this.sidecar?.status() ?? { expose: [], forward: [], tunnels: [] })
    }
  }

  health (): HealthDocument {
    if (this.stopping) return { ok: false, reason: 'shutdown', fix: reasonFix('shutdown') }
    const code = this.node.gate.ownVerdict()
    return code === null ? { ok: true } : { ok: false, reason: code, fix: reasonFix(code) }
  }

  private readonly routes: Readonly<Record<string, { method: string, route: Route }>> = {
    '/status': { method: 'GET', route: (_req, res) => { sendJson(res, 200, this.status()) } },
    '/healthz': {
      method: 'GET',
      route: (_req, res) => {
        const health = this.health()
        sendJson(res, health.ok ? 200 : 503, health)
      }
    },
    '/metrics': {
      method: 'GET',
      route: async (_req, res) => {
        const registry = this.node.metrics.registry
        const text = await registry.metrics()
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) })
        res.end(text)
      }
    },
    '/roster': { method: 'POST', route: async (req, res) => { await this.publish(req, res) } }
  }

  private async serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://admin').pathname
    const entry = Object.hasOwn(this.routes, path) ? this.routes[path] : undefined
    try {
      if (entry === undefined) {
        sendJson(res, 404, { error: 'not-found', message: `no such endpoint ${path}; try /status, /metrics, /healthz or POST /roster` })
      } else if (req.method !== entry.method && !(entry.method === 'GET' && req.method === 'HEAD')) {
        res.setHeader('allow', entry.method === 'GET' ? 'GET, HEAD' : entry.method)
        sendJson(res, 405, { error: 'method-not-allowed', message: `${path} takes ${entry.method}` })
      } else {
        await entry.route(req, res)
      }
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: err instanceof Error ? err.message : String(err) })
      else res.destroy()
    }
  }

  private async publish (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req, MAX_ROSTER_BYTES)
    if (text === null) {
      sendJson(res, 413, { accepted: false, code: 'malformed', message: `roster larger than ${MAX_ROSTER_BYTES} bytes`, fix: reasonFix('malformed') })
      return
    }
    const before = this.node.roster.fingerprint
    const refusal = await this.node.store.applyText(text, 'publish')
    const doc: PublishDocument = refusal === null
      ? { accepted: true, epoch: this.node.roster.epoch, alreadyInForce: this.node.roster.fingerprint === before }
      : { accepted: false, code: refusal.code, message: refusal.message, fix: reasonFix(refusal.code) }
    sendJson(res, refusal === null ? 200 : 409, doc)
  }
}

/** The body as text, or null when it exceeds `max` bytes (the rest is drained, never buffered). */
async function readBody (req: IncomingMessage, max: number): Promise<string | null> {
  if (Number(req.headers['content-length'] ?? 0) > max) return null
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= max) chunks.push(chunk)
      else chunks.length = 0
    })
    req.on('end', () => { resolve(size > max ? null : Buffer.concat(chunks).toString('utf8')) })
    req.on('error', reject)
  })
}

function sendJson (res: ServerResponse, status: number, doc: unknown): void {
  const body = JSON.stringify(doc) + '\n'
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}
