import { Credential, isReasonCode, MalformedError, type ReasonCode } from '../membership/index.ts'

/**
 * The membership exchange, run inside the Noise channel before the muxer:
 *
 *   dialer   → listener  { v, federation, rosterEpoch, credential }
 *   listener → dialer    { v, federation, rosterEpoch, credential, verdict: 'ok' }  or  { v, verdict: CODE }
 *   dialer   → listener  { v, verdict: 'ok' | CODE }
 *
 * Each message is one length-prefixed JSON document of at most MAX_HELLO_BYTES. A side that refuses
 * sends its reason code, so the other side learns why, then aborts the upgrade.
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

export interface HelloMessage {
  readonly hello?: Hello
  readonly verdict?: Verdict
}

const encoder = new TextEncoder()

export function encodeHello (message: HelloMessage): Uint8Array {
  const doc: Record<string, unknown> = { v: HELLO_VERSION }
  if (message.hello !== undefined) {
    doc.federation = message.hello.federation
    doc.rosterEpoch = message.hello.rosterEpoch
    doc.credential = message.hello.credential.toJSON()
  }
  if (message.verdict !== undefined) doc.verdict = message.verdict
  return encoder.encode(JSON.stringify(doc))
}

/** Thrown when a peer's hello does not decode; `code` is the reason sent back. */
export class HelloError extends Error {
  override readonly name = 'HelloError'
  readonly code: ReasonCode

  constructor (code: ReasonCode, message: string) {
    super(message)
    this.code = code
  }
}

/** Decodes a hello; `expect` says which parts must be present. */
export function decodeHello (bytes: Uint8Array, expect: { hello: boolean, verdict: boolean }): HelloMessage {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    throw new HelloError('malformed', 'hello is not JSON')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new HelloError('malformed', 'hello is not a JSON object')
  const m = doc as Record<string, unknown>
  if (m.v !== HELLO_VERSION) throw new HelloError('version-mismatch', `hello version ${JSON.stringify(m.v)}, expected ${HELLO_VERSION}`)
  let verdict: Verdict | undefined
  if (m.verdict !== undefined) {
    if (m.verdict !== 'ok' && !isReasonCode(m.verdict)) throw new HelloError('malformed', 'hello verdict is not a reason code')
    verdict = m.verdict
    if (verdict !== 'ok') return { verdict }
  }
  if (expect.verdict && verdict === undefined) throw new HelloError('malformed', 'hello lacks a verdict')
  if (!expect.hello) return { verdict }
  if (m.credential === undefined) throw new HelloError('no-credential', 'hello carries no credential')
  if (typeof m.federation !== 'string' || typeof m.rosterEpoch !== 'number' || !Number.isSafeInteger(m.rosterEpoch)) {
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
