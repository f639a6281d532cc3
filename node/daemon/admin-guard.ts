import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { formatHostPort, isLoopback, type AdminAddress } from './config.ts'

/** Why a request to the admin endpoint is refused before it is served. */
export interface Screened {
  readonly status: 401 | 403 | 415 | 421
  readonly error: string
  readonly message: string
}

export interface AdminGuardInit {
  readonly address: AdminAddress
  /** When set, `POST /roster` needs `Authorization: Bearer TOKEN`. */
  readonly token?: string
}

/**
 * Screens every admin request before it is served, so that a web page open in the operator's
 * browser can neither read `/status` nor POST a roster:
 * - the Host header must name this endpoint by an IP address or `localhost` and its port (a DNS
 *   rebinding attack arrives under the attacker's domain name);
 * - a request from a browser page of another origin (Origin, Sec-Fetch-Site) is refused;
 * and (screenAdminPost) a POST must be `Content-Type: application/json` (which a cross-site form
 * cannot send without a preflight this endpoint never answers), with the bearer token when one is
 * configured.
 */
export function screenAdminRequest (req: IncomingMessage, init: AdminGuardInit): Screened | null {
  const host = req.headers.host
  if (host === undefined || !allowedHost(host, init.address)) {
    return { status: 421, error: 'wrong-host', message: `this admin endpoint answers only as ${formatHostPort(init.address)} (or localhost / an IP address of this host with port ${init.address.port}); got Host ${JSON.stringify(host ?? '')}` }
  }
  const origin = req.headers.origin
  if ((origin !== undefined && origin !== `http://${host}`) || req.headers['sec-fetch-site'] === 'cross-site') {
    return { status: 403, error: 'cross-origin', message: 'requests from a web page of another origin are refused' }
  }
  return null
}

/** The further checks of a request that changes the node (POST): JSON, and the token when configured. */
export function screenAdminPost (req: IncomingMessage, init: AdminGuardInit): Screened | null {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    return { status: 415, error: 'unsupported-media-type', message: 'POST a roster with Content-Type: application/json (fedgate roster publish does)' }
  }
  if (init.token !== undefined && !bearerMatches(req.headers.authorization, init.token)) {
    return { status: 401, error: 'unauthorized', message: 'POST /roster needs Authorization: Bearer TOKEN, the token in the node config\'s adminToken file (fedgate roster publish --admin-token FILE)' }
  }
  return null
}

function allowedHost (header: string, address: AdminAddress): boolean {
  const match = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(header) ?? /^([^:]+)(?::(\d+))?$/.exec(header)
  const name = match?.[1]?.toLowerCase()
  const port = Number(match?.[2] ?? 80)
  if (name === undefined || port !== address.port) return false
  if (name === address.host.toLowerCase()) return true
  if (name === 'localhost') return isLoopback(address.host) || isUnspecified(address.host)
  return isIP(name) !== 0
}

function isUnspecified (host: string): boolean {
  return host === '0.0.0.0' || host === '::'
}

function bearerMatches (header: string | undefined, token: string): boolean {
  const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1]
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}
