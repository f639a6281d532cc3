import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Credential, MalformedError, Roster } from '../../membership/index.ts'
import { decodeHello, decodeVerdict, encodeHello, HelloError } from '../../node/net/hello.ts'
import { decodeRequest, decodeSizes, encodeAnnounce, encodePull, encodeSizes, SyncProtocolError } from '../../node/sync/wire.ts'
import { credentialFields, genesis, MEMBER_KEYS, mintCredential, nodeKey } from '../membership/fixtures.ts'

/** `bytes` with `edits` random changes: a byte flipped, dropped, duplicated, or the tail cut. */
function mutate (bytes: Uint8Array, edits: ReadonlyArray<[number, number, number]>): Uint8Array {
  let out = Uint8Array.from(bytes)
  for (const [kind, at, value] of edits) {
    const i = out.length === 0 ? 0 : at % out.length
    if (kind === 0) out[i] = value
    else if (kind === 1) out = Uint8Array.from([...out.subarray(0, i), ...out.subarray(i + 1)])
    else if (kind === 2) out = Uint8Array.from([...out.subarray(0, i), value, ...out.subarray(i)])
    else out = out.subarray(0, i)
  }
  return out
}

const edits = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })

/** Runs `decode` on mutations of `valid`: it returns or throws one of `allowed`, never anything else. */
function fuzz (valid: Uint8Array, decode: (bytes: Uint8Array) => unknown, allowed: ReadonlyArray<new (...args: never[]) => Error>, numRuns: number): void {
  fc.assert(fc.property(edits, e => {
    try {
      decode(mutate(valid, e))
    } catch (err) {
      assert.ok(allowed.some(type => err instanceof type), `unexpected ${err instanceof Error ? err.name : typeof err}: ${String(err)}`)
    }
  }), { numRuns })
}

/**
 * 20,000 mutations of valid hello, credential, roster and roster-sync messages: every decoder
 * refuses with its own error type and never crashes with another.
 */
describe('adversarial: mutated wire and file input (20,000 cases)', () => {
  it('hello and verdict messages: 8,000 mutations', async () => {
    const credential = mintCredential(credentialFields((await nodeKey('fuzz')).peerId), MEMBER_KEYS['val-a'])
    const hello = encodeHello({ federation: credential.federation, rosterEpoch: 3, credential }, 'ok')
    fuzz(hello, bytes => decodeHello(bytes, true), [HelloError], 4000)
    fuzz(hello, bytes => decodeHello(bytes, false), [HelloError], 2000)
    fuzz(hello, decodeVerdict, [HelloError], 2000)
  })

  it('credentials: 6,000 mutations', async () => {
    const credential = mintCredential(credentialFields((await nodeKey('fuzz')).peerId), MEMBER_KEYS['val-a'])
    fuzz(new TextEncoder().encode(credential.encode()), bytes => Credential.decode(bytes), [MalformedError], 6000)
  })

  it('rosters: 4,000 mutations', () => {
    fuzz(new TextEncoder().encode(genesis().encode()), bytes => Roster.parse(new TextDecoder().decode(bytes)), [MalformedError], 4000)
  })

  it('roster sync control messages: 2,000 mutations', () => {
    fuzz(encodeAnnounce(7, 'ab'.repeat(32)), decodeRequest, [SyncProtocolError], 700)
    fuzz(encodePull(6), decodeRequest, [SyncProtocolError], 600)
    fuzz(encodeSizes([1024, 2048]), decodeSizes, [SyncProtocolError], 700)
  })
})
