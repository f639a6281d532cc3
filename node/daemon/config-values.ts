import { isIP } from 'node:net'
import { ConfigError } from './errors.ts'

/** A TCP address as `HOST:PORT` in the config: the admin endpoint, a sidecar target or forward listener. */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/** Parses `HOST:PORT` or `[IPv6]:PORT`; port 0 picks a free port. `example` goes into the fix. */
export function parseHostPort (value: string, where: string, example: string, usage = false): HostPort {
  const match = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  const host = match?.[1]
  const port = Number(match?.[2])
  if (host === undefined || !(port >= 0 && port <= 65535) || (value.startsWith('[') && isIP(host) !== 6)) {
    throw new ConfigError(where, `expected HOST:PORT, got ${JSON.stringify(value)}`, `give an address such as ${example}`, usage)
  }
  return { host, port }
}

/** True for addresses that only this host can reach. */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** `127.0.0.1:9474` or `[::1]:9474`. */
export function formatHostPort (address: HostPort): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

export function stringValue (value: unknown, where: string, expected: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(where, `expected a non-empty string, got ${describe(value)}`, `set it to ${expected}`)
  }
  return value
}

/** A config value in words, for error messages. */
export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}
