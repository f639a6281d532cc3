import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { pipeline, type Duplex } from 'node:stream'
import type { ReasonCode } from '../../../membership/index.ts'
import type { AdmittedPeer } from '../../types.ts'
import type { HostPort } from '../config-values.ts'
import { splice } from './splice.ts'

/** The headers that name the caller; any the caller sends itself are removed first. */
export const MEMBER_HEADER = 'Fedgate-Member'
export const ROLES_HEADER = 'Fedgate-Roles'
export const PEER_HEADER = 'Fedgate-Peer'
/** Every request header with this prefix (any case) is the exposing node's to set. */
const RESERVED_PREFIX = 'fedgate-'
/** Headers that describe one hop, not the request (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

export interface HttpExposeInit {
  readonly target: HostPort
  /** Who is calling through `duplex` now (roles follow credential renewals), or undefined once gone. */
  readonly caller: (duplex: Duplex) => AdmittedPeer | undefined
  /** A request that could not reach the target; it is answered 502. */
  readonly requestFailed: (duplex: Duplex, reason: ReasonCode, detail: string) => void
}

/**
 * The exposing side of an HTTP-mode service: a node:http server that never listens but is handed
 * each tunnel's stream, and proxies every request on it to the target with `Fedgate-Member`,
 * `Fedgate-Roles` and `Fedgate-Peer` set to the caller (whatever the caller sent under those names
 * is dropped, on every request of a keep-alive connection). WebSocket upgrades are passed through
 * the same way. Each tunnel has its own upstream keep-alive connection, so requests keep their order.
 */
export class HttpExpose {
  private readonly init: HttpExposeInit
  private readonly server: Server
  private readonly agents = new WeakMap<Duplex, Agent>()

  constructor (init: HttpExposeInit) {
    this.init = init
    // The tunnel's lifetime is the client's keep-alive connection: no idle timeout of our own.
    this.server = createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 0 })
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => { this.proxy(req, res) })
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { this.upgrade(req, socket, head) })
  }

  /** Serves the requests on one tunnel; resolves with its error, if any, once it closed. */
  async serve (duplex: Duplex): Promise<Error | undefined> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    this.agents.set(duplex, agent)
    const closed = new Promise<Error | undefined>(resolve => {
      duplex.once('close', () => {
        agent.destroy()
        resolve(duplex.errored ?? undefined)
      })
    })
    this.server.emit('connection', duplex)
    return await closed
  }

  private proxy (req: IncomingMessage, res: ServerResponse): void {
    const duplex = req.socket as Duplex
    const caller = this.init.caller(duplex)
    const agent = this.agents.get(duplex)
    if (caller === undefined || agent === undefined) {
      res.destroy()
      return
    }
    const headers = [...requestHeaders(req.rawHeaders, false), ...identityHeaders(caller)]
    if (req.headers['transfer-encoding'] !== undefined) headers.push('Transfer-Encoding', 'chunked')
    const upstream = request({ host: this.init.target.host, port: this.init.target.port, method: req.method, path: req.url, headers, agent, setHost: false })
    upstream.on('response', (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHop(answer.rawHeaders))
      pipeline(answer, res, () => {})
    })
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // The caller left first: there is nobody to answer, and the target is not to blame.
      if (res.destroyed) return
      const code = err.code ?? err.message
      if (res.headersSent) {
        this.init.requestFailed(duplex, 'tunnel-reset', `the target failed during the answer (${code})`)
        res.destroy()
        return
      }
      this.init.requestFailed(duplex, 'target-unreachable', code)
      const body = JSON.stringify({ error: 'target-unreachable', message: `the exposed service at ${this.init.target.host}:${this.init.target.port} did not answer (${code})` }) + '\n'
      res.writeHead(502, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    res.on('close', () => { if (!res.writableFinished) upstream.destroy() })
    req.pipe(upstream)
  }

  /** An upgrade (WebSocket) request: sent to the target with the caller's headers, then bytes both ways. */
  private upgrade (req: IncomingMessage, duplex: Duplex, head: Buffer): void {
    const caller = this.init.caller(duplex)
    if (caller === undefined) {
      duplex.destroy()
      return
    }
    const headers = [...requestHeaders(req.rawHeaders, true), ...identityHeaders(caller)]
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`]
    for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i] ?? ''}: ${headers[i + 1] ?? ''}`)
    const target: Socket = connect({ host: this.init.target.host, port: this.init.target.port, allowHalfOpen: true, noDelay: true })
    let connected = false
    target.once('connect', () => { connected = true })
    target.once('error', (err: NodeJS.ErrnoException) => {
      if (!connected) this.init.requestFailed(duplex, 'target-unreachable', err.code ?? err.message)
    })
    target.write(lines.join('\r\n') + '\r\n\r\n')
    if (head.byteLength > 0) target.write(head)
    void splice(duplex, target)
  }
}

/** The caller's request headers without fedgate's own names and, unless upgrading, hop-by-hop ones. */
function requestHeaders (raw: readonly string[], upgrading: boolean): string[] {
  const named = connectionTokens(raw)
  const out: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? ''
    const lower = name.toLowerCase()
    if (lower.startsWith(RESERVED_PREFIX)) continue
    const keptForUpgrade = upgrading && (lower === 'connection' || lower === 'upgrade')
    if (!keptForUpgrade && (HOP_BY_HOP.has(lower) || named.has(lower))) continue
    out.push(name, raw[i + 1] ?? '')
  }
  return out
}

function withoutHopByHop (raw: readonly string[]): string[] {
  const named = connectionTokens(raw)
  const out: string[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = (raw[i] ?? '').toLowerCase()
    if (!HOP_BY_HOP.has(lower) && !named.has(lower)) out.push(raw[i] ?? '', raw[i + 1] ?? '')
  }
  return out
}

/** Header names a `Connection` header lists: they are hop-by-hop too. */
function connectionTokens (raw: readonly string[]): Set<string> {
  const tokens = new Set<string>()
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() !== 'connection') continue
    for (const token of (raw[i + 1] ?? '').split(',')) tokens.add(token.trim().toLowerCase())
  }
  tokens.delete('upgrade')
  return tokens
}

function identityHeaders (caller: AdmittedPeer): string[] {
  return [MEMBER_HEADER, caller.memberId, ROLES_HEADER, caller.roles.join(','), PEER_HEADER, caller.peerId]
}
