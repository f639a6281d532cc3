import { InvalidArgumentError } from 'commander'
import { peerIdFromString } from '@libp2p/peer-id'
import { MalformedError, parseDuration } from '../../membership/index.ts'
import { MAX_KDF_COST, MIN_KDF_COST } from '../files/keystore.ts'

/**
 * Option value parsers for commander. Each returns the parsed value or throws InvalidArgumentError,
 * which commander reports as a usage error naming the option.
 */

/** `validator,relayer` → ['validator', 'relayer']. */
export function roleList (value: string): string[] {
  const roles = value.split(',').map(r => r.trim()).filter(r => r !== '')
  if (roles.length === 0) throw new InvalidArgumentError('give at least one role, e.g. validator or validator,relayer')
  return roles
}

export function positiveInt (value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer')
  return Number(value)
}

/** A TCP port, 0 for a free one. */
export function port (value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) throw new InvalidArgumentError('expected a port number from 0 to 65535')
  return Number(value)
}

/** Milliseconds from a duration such as 60s, 15m, 24h or 7d. */
export function durationMs (value: string): number {
  try {
    return parseDuration(value, 'duration')
  } catch (err) {
    if (err instanceof MalformedError) throw new InvalidArgumentError('expected a duration such as 60s, 15m, 24h or 7d')
    throw err
  }
}

/** A PeerId that embeds its public key (Ed25519 `12D3KooW…` or secp256k1 `16Uiu2…`). */
export function peerId (value: string): string {
  let embedsKey: boolean
  try {
    embedsKey = peerIdFromString(value).publicKey !== undefined
  } catch {
    embedsKey = false
  }
  if (!embedsKey) throw new InvalidArgumentError('expected an Ed25519 or secp256k1 PeerId (12D3KooW... or 16Uiu2...)')
  return value
}

/** For repeatable options: `--addr A --addr B` → [A, B]. */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** scrypt cost of an encrypted key file, as log2(N). */
export function kdfCost (value: string): number {
  const n = Number(value)
  if (!/^\d{1,2}$/.test(value) || n < MIN_KDF_COST || n > MAX_KDF_COST) throw new InvalidArgumentError(`expected an integer from ${MIN_KDF_COST} to ${MAX_KDF_COST} (log2 of scrypt's N)`)
  return n
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/

/** Milliseconds since the epoch from an ISO-8601 time that names its zone (`Z` or `+01:00`). */
export function isoInstant (value: string): number {
  const ms = Date.parse(value)
  if (!ISO_INSTANT.test(value) || Number.isNaN(ms)) throw new InvalidArgumentError('expected an ISO-8601 time with a zone, e.g. 2026-12-03T00:00:00Z')
  return ms
}
