import { MalformedError } from './errors.ts'

/** Boundary checks: each returns the value typed, or throws MalformedError naming the JSON path. */

export type JsonObject = Record<string, unknown>

export function obj (value: unknown, path: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MalformedError(path, `expected an object, got ${describe(value)}`)
  }
  return value as JsonObject
}

/** Checks that `value` has exactly the required keys, plus any of the optional ones. */
export function fields (value: JsonObject, path: string, required: readonly string[], optional: readonly string[] = []): void {
  for (const key of required) {
    if (!Object.hasOwn(value, key)) {
      throw new MalformedError(join(path, key), 'missing field')
    }
  }
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new MalformedError(join(path, key), `unknown field (allowed: ${[...required, ...optional].join(', ')})`)
    }
  }
}

export function str (value: unknown, path: string, opts: { min?: number, max?: number, pattern?: RegExp, hint?: string } = {}): string {
  if (typeof value !== 'string') {
    throw new MalformedError(path, `expected a string, got ${describe(value)}`)
  }
  const min = opts.min ?? 1
  const max = opts.max ?? 256
  if (value.length < min || value.length > max) {
    throw new MalformedError(path, `expected ${min}..${max} characters, got ${value.length}`)
  }
  if (opts.pattern !== undefined && !opts.pattern.test(value)) {
    throw new MalformedError(path, `invalid value ${JSON.stringify(truncate(value))}${opts.hint !== undefined ? ` (${opts.hint})` : ''}`)
  }
  return value
}

export function int (value: unknown, path: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new MalformedError(path, `expected an integer, got ${describe(value)}`)
  }
  if (value < min || value > max) {
    throw new MalformedError(path, `expected an integer in ${min}..${max}, got ${value}`)
  }
  return value
}

export function arr (value: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(value)) {
    throw new MalformedError(path, `expected an array, got ${describe(value)}`)
  }
  if (value.length > max) {
    throw new MalformedError(path, `at most ${max} entries allowed, got ${value.length}`)
  }
  return value
}

/** An array of distinct strings, each checked by `item`. */
export function strSet (value: unknown, path: string, max: number, item: (v: unknown, p: string) => string): string[] {
  const out = arr(value, path, max).map((v, i) => item(v, `${path}[${i}]`))
  const seen = new Set<string>()
  out.forEach((v, i) => {
    if (seen.has(v)) throw new MalformedError(`${path}[${i}]`, `duplicate entry ${JSON.stringify(v)}`)
    seen.add(v)
  })
  return out
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/

/** An ISO-8601 UTC timestamp such as 2026-11-29T00:00:00Z, returned as milliseconds. */
export function timestamp (value: unknown, path: string): number {
  const s = str(value, path, { max: 30, pattern: ISO_UTC, hint: 'expected an ISO-8601 UTC time such as 2026-11-29T00:00:00Z' })
  const ms = Date.parse(s)
  // Date.parse rolls impossible dates over (Feb 30 becomes Mar 2): require the fields to survive.
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 19) !== s.slice(0, 19)) {
    throw new MalformedError(path, `not a real date: ${s}`)
  }
  return ms
}

/** Formats milliseconds as the ISO-8601 UTC form used in files (second precision). */
export function isoTime (ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

export const HEX_SECP256K1_PUB = /^0[23][0-9a-f]{64}$/
export const HEX_SIG = /^[0-9a-f]{128}$/
export const HEX_SHA256 = /^[0-9a-f]{64}$/
export const ROLE = /^[a-z][a-z0-9-]{0,31}$/
export const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const PEER_ID = /^(12D3Koo|16Uiu2)[1-9A-HJ-NP-Za-km-z]{40,60}$/
export const PROTOCOL_ID = /^\/[\x21-\x7e]{1,255}$/

export function secp256k1PublicKeyHex (value: unknown, path: string): string {
  return str(value, path, { min: 66, max: 66, pattern: HEX_SECP256K1_PUB, hint: 'a compressed secp256k1 public key: 66 lowercase hex characters starting with 02 or 03' })
}

export function join (path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(truncate(value))}`
  return typeof value
}

function truncate (s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s
}
