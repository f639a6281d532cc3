import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { MAX_ROSTER_BYTES, reasonFix, type ReasonCode } from '../../membership/index.ts'
import type { FederationNode } from '../federation-node.ts'
import type { SlotUse } from '../gate/gate.ts'
import type { ReservedPeerStatus } from '../peers/peer-manager.ts'
import type { Refusal } from '../types.ts'
import { formatHostPort, type AdminAddress } from './config.ts'
import { precheckRoster } from '../files/roster-precheck.ts'
import { screenAdminPost, screenAdminRequest } from './admin-guard.ts'
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
  /** The peers this node must reach (roster topology and `dial`), with their health. */
  reserved: ReservedPeerStatus[]
  /** Slot use by direction and, inbound, by role class. */
  slots: SlotUse
  /** Handshakes in progress, and the IPs holding the most. */
  pending: { pending: number, byIp: Array<{ ip: string, pending: number }> }
  /** IPs banned now, and until when. */
  bans: Array<{ ip: string, until: string }>
  /** Sidecar: the services this node exposes, its forward listeners (bound addresses), and the open tunnels. */
  expose: SidecarStatus['expose']
  forward: SidecarStatus['forward']
  tunnels: SidecarStatus['tunnels']
}

/** What `GET /healthz` returns: 200 with `ok: true`, or 503 with the reason code and the fix. */
export type HealthDocument = { ok: true } | { ok: false, reason: ReasonCode, fix: string }

/**
 * What `POST /roster` returns: 200 when the epoch is in force (`alreadyInForce` when it was before
 * the request, so nothing changed), 409 with the refusal otherwise, and the epoch the node runs.
 */
export type PublishDocument =
  | { accepted: true, epoch: number, alreadyInForce: boolean }
  | { accepted: false, code: ReasonCode, message: string, fix: string, nodeEpoch?: number }

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void

export interface AdminServerOptions {
  /** @default now */
  startedAt?: number
  /** When set, `POST /roster` needs `Authorization: Bearer TOKEN`. */
  token?: string
  /** The sidecar whose services and tunnels `/status` lists. */
  sidecar?: { status (): SidecarStatus } | null
}

/**
 * The node's local admin endpoint (plain node:http): `GET /status`, `GET /metrics`,
 * `GET /healthz` and `POST /roster`. It binds to loopback unless the operator chose otherwise.
 */
export class AdminServer {
  readonly address: AdminAddress
  private readonly server: Server
  private readonly node: FederationNode
  private readonly startedAt: number
  private readonly token: string | undefined
  private readonly sidecar: { status (): SidecarStatus } | null
  private stopping = false
  private publishing = false

  private constructor (server: Server, node: FederationNode, address: AdminAddress, opts: AdminServerOptions) {
    this.server = server
    this.node = node
    this.address = address
    this.startedAt = opts.startedAt ?? Date.now()
    this.token = opts.token
    this.sidecar = opts.sidecar ?? null
  }

  /** Binds the endpoint; port 0 picks a free port (see `address`). Rejects with AdminListenError. */
  static async listen (node: FederationNode, at: AdminAddress, opts: AdminServerOptions = {}): Promise<AdminServer> {
    const server = createServer()
    server.requestTimeout = REQUEST_TIMEOUT_MS
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => { reject(new AdminListenError(formatHostPort(at), err.code ?? err.message)) })
      server.listen(at.port, at.host, () => { resolve() })
    })
    const bound = server.address() as AddressInfo
    const admin = new AdminServer(server, node, { host: at.host, port: bound.port }, opts)
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
      reserved: node.gate.reservedPeers(),
      slots: node.gate.slotUse(),
      pending: node.gate.pendingHandshakes(),
      bans: node.gate.bannedIps().map(b => ({ ip: b.ip, until: iso(b.until) })),
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
      const guard = { address: this.address, ...(this.token === undefined ? {} : { token: this.token }) }
      const screened = screenAdminRequest(req, guard) ?? (entry?.method === 'POST' && req.method === 'POST' ? screenAdminPost(req, guard) : null)
      if (screened !== null) {
        if (screened.status === 401) res.setHeader('www-authenticate', 'Bearer')
        sendJson(res, screened.status, { error: screened.error, message: screened.message })
        req.resume()
      } else if (entry === undefined) {
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

  /**
   * `POST /roster`: one at a time (a second gets 429), a body no larger than the largest roster a
   * node accepts, and a large one checked off the main thread before it is parsed here.
   */
  private async publish (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.publishing) {
      req.resume()
      sendJson(res, 429, { error: 'busy', message: 'another roster is being published; retry when it is done' })
      return
    }
    this.publishing = true
    try {
      const text = await readBody(req, MAX_ROSTER_BYTES)
      if (text === null) {
        sendJson(res, 413, { accepted: false, code: 'malformed', message: `roster larger than ${MAX_ROSTER_BYTES} bytes`, fix: reasonFix('malformed') })
        return
      }
      const before = this.node.roster
      const verdict = await precheckRoster(text, before)
      if (verdict?.inForce === true) {
        sendJson(res, 200, { accepted: true, epoch: before.epoch, alreadyInForce: true } satisfies PublishDocument)
        return
      }
      const refusal = verdict === null ? await this.node.store.applyText(text, 'publish') : this.node.store.refuse({ ...verdict, source: 'publish' })
      const doc: PublishDocument = refusal === null
        ? { accepted: true, epoch: this.node.roster.epoch, alreadyInForce: this.node.roster.fingerprint === before.fingerprint }
        : { accepted: false, code: refusal.code, message: refusal.message, fix: reasonFix(refusal.code), nodeEpoch: this.node.roster.epoch }
      sendJson(res, refusal === null ? 200 : 409, doc)
    } finally {
      this.publishing = false
    }
  }
}

/** The body as text, or null when it exceeds `max` bytes (the rest is drained, never buffered). */
async function readBody (req: IncomingMessage, max: number): Promise<string | null> {
  if (Number(req.headers['content-length'] ?? 0) > max) {
    req.resume()
    return null
  }
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
