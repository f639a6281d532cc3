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

/**
 * A node's own hello goes out unchanged on every connection until its credential or roster epoch
 * changes: its bytes are kept per credential (nothing downstream writes into them).
 */
const encodedHellos = new WeakMap<Credential, Map<string, Uint8Array>>()
const encodedVerdicts = new Map<Verdict, Uint8Array>()

/** A hello, with the sender's verdict on the other side when it has one (the listener's reply). The bytes are shared: never write into them. */
export function encodeHello (hello: Hello, verdict?: 'ok'): Uint8Array {
  const key = `${hello.federation} ${hello.rosterEpoch} ${verdict ?? ''}`
  let encoded = encodedHellos.get(hello.credential)
  const known = encoded?.get(key)
  if (known !== undefined) return known
  const doc: Record<string, unknown> = { v: HELLO_VERSION, federation: hello.federation, rosterEpoch: hello.rosterEpoch, credential: hello.credential.toJSON() }
  if (verdict !== undefined) doc.verdict = verdict
  const bytes = utf8(JSON.stringify(doc))
  // Only the latest epoch's encodings are worth keeping.
  if (encoded === undefined || encoded.size >= 4) encoded = new Map()
  encoded.set(key, bytes)
  encodedHellos.set(hello.credential, encoded)
  return bytes
}

/** A verdict alone: a refusal in the exchange, the dialer's final word, or a bye or renewal reply. The bytes are shared: never write into them. */
export function encodeVerdict (verdict: Verdict): Uint8Array {
  let bytes = encodedVerdicts.get(verdict)
  if (bytes === undefined) {
    bytes = utf8(JSON.stringify({ v: HELLO_VERSION, verdict }))
    encodedVerdicts.set(verdict, bytes)
  }
  return bytes
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

function textOf (bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes)
  } catch {
    throw new HelloError('malformed', 'message is not JSON')
  }
}

function documentOf (text: string): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(text)
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
  const m = documentOf(textOf(bytes))
  if (m.verdict === undefined) throw new HelloError('malformed', 'message lacks a verdict')
  return m.verdict as Verdict
}

/** Decodes the dialer's last message: its verdict, or a catch-up pull. */
export function decodeFinal (bytes: Uint8Array): FinalMessage {
  const m = documentOf(textOf(bytes))
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

/** Hellos decoded lately, by their exact text and `withVerdict`. */
const decodedHellos = new Map<string, HelloMessage>()
/** Bounds the cache: about 1 KB per entry. */
const DECODED_HELLOS_MAX = 1024

/**
 * Decodes a hello, or a refusal in its place. `withVerdict` says whether an accepting sender must
 * also send `verdict: 'ok'` (the listener's reply does).
 *
 * A peer sends the same hello on every connection, so a hello decoded lately is taken from a cache
 * of its text: decoding is a pure function of the bytes, and the credential is immutable, so this
 * skips JSON parsing, the credential's format checks and its fingerprint (about 65 us of the 70 a
 * decode costs) and changes no verdict.
 */
export function decodeHello (bytes: Uint8Array, withVerdict: boolean): HelloMessage {
  const text = textOf(bytes)
  const key = `${withVerdict ? 'v' : 'h'}${text}`
  const cached = decodedHellos.get(key)
  if (cached !== undefined) return cached
  const decoded = decodeHelloText(text, withVerdict)
  if (decoded.hello !== undefined) {
    if (decodedHellos.size >= DECODED_HELLOS_MAX) {
      const oldest = decodedHellos.keys().next().value
      if (oldest !== undefined) decodedHellos.delete(oldest)
    }
    decodedHellos.set(key, decoded)
  }
  return decoded
}

function decodeHelloText (text: string, withVerdict: boolean): HelloMessage {
  const m = documentOf(text)
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
  return Object.freeze({ hello: Object.freeze({ federation: m.federation, rosterEpoch: m.rosterEpoch, credential }), verdict })
}
