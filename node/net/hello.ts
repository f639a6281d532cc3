import { Credential, fromUtf8, isReasonCode, MalformedError, utf8, type ReasonCode } from '../../membership/index.ts'

/**
 * The membership exchange, run inside the Noise channel before the muxer:
 *
 *   dialer   → listener  { v, federation, rosterEpoch, credential }
 *   listener → dialer    { v, federation, rosterEpoch, credential, verdict: 'ok' }  or  { v, verdict: CODE }
 *   dialer   → listener  { v, verdict: 'ok' | CODE }
 *
 * Each message is one length-prefixed JSON document of at most MAX_HELLO_BYTES. A side that refuses
 * sends its reason code, so the other side learns why, then aborts the upgrade. The bare verdict
 * message `{ v, verdict }` also answers the bye and renewal protocols.
 *
 * Catch-up: a side whose verdict a newer roster could change, facing a peer that runs a newer
 * epoch, sends `{ v, pull: N }` in place of its answer; the peer answers with its stored epochs
 * after N (the roster sync wire format), and the exchange goes on from where it was.
 */
export const HELLO_VERSION = 1
export const MAX_HELLO_BYTES = 4096
export const ENCRYPTER_PROTOCOL = '/fedgate/noise/1.0.0'

export interface Hello {
  readonly federation: string
  readonly rosterEpoch: number
  readonly credential: Credential
}

export type Verdict = 'ok' | ReasonCode

/** A decoded exchange message: a hello, a refusal (its verdict alone), or a catch-up pull. */
export type HelloMessage =
  | { readonly hello: Hello, readonly verdict?: 'ok', readonly pull?: undefined }
  | { readonly hello?: undefined, readonly verdict: ReasonCode, readonly pull?: undefined }
  | { readonly hello?: undefined, readonly verdict?: undefined, readonly pull: number }

/** The last message of the exchange: the dialer's verdict, or a catch-up pull before it. */
export type FinalMessage = { readonly verdict: Verdict, readonly pull?: undefined } | { readonly verdict?: undefined, readonly pull: number }

/** Asks the peer for its stored epochs after `after`, before answering it (catch-up). */
export function encodePull (after: number): Uint8Array {
  return utf8(JSON.stringify({ v: HELLO_VERSION, pull: after }))
}

/** A hello, with the sender's verdict on the other side when it has one (the listener's reply). */
export function encodeHello (hello: Hello, verdict?: 'ok'): Uint8Array {
  const doc: Record<string, unknown> = { v: HELLO_VERSION, federation: hello.federation, rosterEpoch: hello.rosterEpoch, credential: hello.credential.toJSON() }
  if (verdict !== undefined) doc.verdict = verdict
  return utf8(JSON.stringify(doc))
}

/** A verdict alone: a refusal in the exchange, the dialer's final word, or a bye or renewal reply. */
export function encodeVerdict (verdict: Verdict): Uint8Array {
  return utf8(JSON.stringify({ v: HELLO_VERSION, verdict }))
}

/** Thrown when a peer's message does not decode; `code` is the reason sent back. */
export class HelloError extends Error {
  override readonly name = 'HelloError'
  readonly code: ReasonCode

  constructor (code: ReasonCode, message: string) {
    super(message)
    this.code = code
  }
}

function decodeDocument (bytes: Uint8Array): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(fromUtf8(bytes))
  } catch {
    throw new HelloError('malformed', 'message is not JSON')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new HelloError('malformed', 'message is not a JSON object')
  const m = doc as Record<string, unknown>
  if (m.v !== HELLO_VERSION) throw new HelloError('version-mismatch', `hello version ${JSON.stringify(m.v)}, expected ${HELLO_VERSION}`)
  if (m.verdict !== undefined && m.verdict !== 'ok' && !isReasonCode(m.verdict)) throw new HelloError('malformed', 'verdict is not a reason code')
  return m
}

/** Decodes a bare verdict message. */
export function decodeVerdict (bytes: Uint8Array): Verdict {
  const m = decodeDocument(bytes)
  if (m.verdict === undefined) throw new HelloError('malformed', 'message lacks a verdict')
  return m.verdict as Verdict
}

/** Decodes the dialer's last message: its verdict, or a catch-up pull. */
export function decodeFinal (bytes: Uint8Array): FinalMessage {
  const m = decodeDocument(bytes)
  const pull = pullOf(m)
  if (pull !== undefined) return { pull }
  if (m.verdict === undefined) throw new HelloError('malformed', 'message lacks a verdict')
  return { verdict: m.verdict as Verdict }
}

function pullOf (m: Record<string, unknown>): number | undefined {
  if (m.pull === undefined) return undefined
  if (typeof m.pull !== 'number' || !Number.isSafeInteger(m.pull) || m.pull < 0) throw new HelloError('malformed', 'pull is not an epoch number')
  return m.pull
}

/**
 * Decodes a hello, or a refusal in its place. `withVerdict` says whether an accepting sender must
 * also send `verdict: 'ok'` (the listener's reply does).
 */
export function decodeHello (bytes: Uint8Array, withVerdict: boolean): HelloMessage {
  const m = decodeDocument(bytes)
  const pull = pullOf(m)
  if (pull !== undefined) return { pull }
  const verdict = m.verdict as Verdict | undefined
  if (verdict !== undefined && verdict !== 'ok') return { verdict }
  if (withVerdict && verdict === undefined) throw new HelloError('malformed', 'hello lacks a verdict')
  if (m.credential === undefined) throw new HelloError('no-credential', 'hello carries no credential')
  if (typeof m.federation !== 'string' || typeof m.rosterEpoch !== 'number' || !Number.isSafeInteger(m.rosterEpoch) || m.rosterEpoch < 1) {
    throw new HelloError('malformed', 'hello lacks federation or rosterEpoch')
  }
  let credential: Credential
  try {
    credential = Credential.fromJSON(m.credential)
  } catch (err) {
    throw new HelloError('malformed', err instanceof MalformedError ? `credential ${err.message}` : 'credential does not decode')
  }
  return { hello: { federation: m.federation, rosterEpoch: m.rosterEpoch, credential }, verdict }
}
