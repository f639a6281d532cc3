import type { AbortOptions } from '@libp2p/interface'
import { fromUtf8, MAX_ROSTER_BYTES, utf8 } from '../../membership/index.ts'

/**
 * The roster sync wire format, `/fedgate/roster/2.0.0`. Every frame is length-prefixed.
 *
 *   announce  { v: 2, announce: N, fingerprint: F, delta?: D }             → nothing
 *   pull      { v: 2, after: N }                                           → { v: 2, sizes: [s1, …, sK] },
 *             then each of the K epochs (ascending, each > N) as chunks of exactly
 *             min(CHUNK_BYTES, bytes left of that epoch)
 *
 * Chunks let an epoch of any allowed size cross libp2p's per-stream read buffer, and give every
 * read a deadline: a peer that stalls or trickles (a chunk shorter than required, or late) is cut,
 * so a slow claimant cannot hold a pull for long.
 */
export const SYNC_VERSION = 2
export const ROSTER_PROTOCOL = '/fedgate/roster/2.0.0'
/** Epochs sent per pull; a node further behind pulls again. */
export const MAX_EPOCHS_PER_PULL = 16
/** Every chunk but an epoch's last is exactly this long. */
export const CHUNK_BYTES = 256 * 1024
/** Control messages are small; anything larger is not one. */
export const CONTROL_BYTES = 512
/**
 * An announcement may carry the epoch itself as a delta against the one before it (see delta.ts)
 * when that is at most this large: a peer one epoch behind then needs no pull at all.
 */
export const MAX_INLINE_DELTA_BYTES = 64 * 1024
/** The largest frame on this protocol. */
export const MAX_FRAME_BYTES = CHUNK_BYTES
/** The first answer to a pull must come within this. */
export const FIRST_RESPONSE_MS = 5_000
/**
 * Each chunk must arrive within this of the previous one: with CHUNK_BYTES that is a floor of
 * 64 KiB/s, so the largest epoch (MAX_ROSTER_BYTES) takes at most about 17 minutes, and a
 * stalled peer is cut in seconds.
 */
export const CHUNK_TIMEOUT_MS = 4_000

/** What both ends of the protocol need from a length-prefixed stream (libp2p's lpStream has it). */
export interface Frames {
  read (options?: AbortOptions): Promise<{ readonly byteLength: number, subarray (): Uint8Array }>
  write (data: Uint8Array, options?: AbortOptions): Promise<void>
}

/** Thrown when a peer breaks the sync protocol; the message says how. */
export class SyncProtocolError extends Error {
  override readonly name = 'SyncProtocolError'
}

export type SyncRequest =
  | { readonly kind: 'announce', readonly epoch: number, readonly fingerprint: string, readonly delta?: unknown }
  | { readonly kind: 'pull', readonly after: number }

/** An announcement, with the epoch as a delta when one is given and small enough. */
export function encodeAnnounce (epoch: number, fingerprint: string, delta?: unknown): Uint8Array {
  const bare = utf8(JSON.stringify({ v: SYNC_VERSION, announce: epoch, fingerprint }))
  if (delta === undefined) return bare
  const full = utf8(JSON.stringify({ v: SYNC_VERSION, announce: epoch, fingerprint, delta }))
  return full.byteLength <= MAX_INLINE_DELTA_BYTES ? full : bare
}

export function encodePull (after: number): Uint8Array {
  return utf8(JSON.stringify({ v: SYNC_VERSION, after }))
}

export function encodeSizes (sizes: readonly number[]): Uint8Array {
  return utf8(JSON.stringify({ v: SYNC_VERSION, sizes }))
}

function control (bytes: Uint8Array, max = CONTROL_BYTES): Record<string, unknown> {
  if (bytes.byteLength > max) throw new SyncProtocolError(`control message of ${bytes.byteLength} bytes`)
  let doc: unknown
  try {
    doc = JSON.parse(fromUtf8(bytes))
  } catch {
    throw new SyncProtocolError('control message is not JSON')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || (doc as Record<string, unknown>).v !== SYNC_VERSION) {
    throw new SyncProtocolError(`not a roster sync message of version ${SYNC_VERSION}`)
  }
  return doc as Record<string, unknown>
}

function epochNumber (value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined
}

export function decodeRequest (bytes: Uint8Array): SyncRequest {
  const doc = control(bytes, MAX_INLINE_DELTA_BYTES)
  const after = epochNumber(doc.after)
  if (after !== undefined) {
    if (bytes.byteLength > CONTROL_BYTES) throw new SyncProtocolError(`pull of ${bytes.byteLength} bytes`)
    return { kind: 'pull', after }
  }
  const epoch = epochNumber(doc.announce)
  if (epoch !== undefined && typeof doc.fingerprint === 'string' && /^[0-9a-f]{64}$/.test(doc.fingerprint)) {
    return { kind: 'announce', epoch, fingerprint: doc.fingerprint, ...(doc.delta === undefined ? {} : { delta: doc.delta }) }
  }
  throw new SyncProtocolError('neither a pull nor an announcement')
}

/** The epoch sizes a pull answer promises; each within the roster size limit, at most MAX_EPOCHS_PER_PULL. */
export function decodeSizes (bytes: Uint8Array): number[] {
  const sizes = control(bytes).sizes
  if (!Array.isArray(sizes) || sizes.length > MAX_EPOCHS_PER_PULL) throw new SyncProtocolError('a pull answer needs at most 16 sizes')
  return sizes.map(size => {
    const n = epochNumber(size)
    if (n === undefined || n === 0 || n > MAX_ROSTER_BYTES) throw new SyncProtocolError(`epoch size ${JSON.stringify(size)} is not within 1..${MAX_ROSTER_BYTES}`)
    return n
  })
}

/** Sends one epoch's bytes as chunks. */
export async function sendEpoch (frames: Frames, bytes: Uint8Array, options: AbortOptions): Promise<void> {
  for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_BYTES) {
    await frames.write(bytes.subarray(offset, offset + CHUNK_BYTES), options)
  }
}

/** Receives one epoch of `size` bytes, each chunk within CHUNK_TIMEOUT_MS and of exactly the required length. */
export async function receiveEpoch (frames: Frames, size: number, outer?: AbortSignal): Promise<Uint8Array> {
  const bytes = new Uint8Array(size)
  let offset = 0
  while (offset < size) {
    const timeout = AbortSignal.timeout(CHUNK_TIMEOUT_MS)
    const chunk = await frames.read({ signal: outer === undefined ? timeout : AbortSignal.any([outer, timeout]) })
    const want = Math.min(CHUNK_BYTES, size - offset)
    if (chunk.byteLength !== want) throw new SyncProtocolError(`chunk of ${chunk.byteLength} bytes where ${want} were due`)
    bytes.set(chunk.subarray(), offset)
    offset += want
  }
  return bytes
}
