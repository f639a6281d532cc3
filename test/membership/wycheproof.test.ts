import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { verifyNative, verifyNoble, type SignatureVerifier } from '../../membership/index.ts'

/*
 * Project Wycheproof's secp256k1 ECDSA/SHA-256 vectors against both verifiers. How Wycheproof's
 * expectations map onto fedgate's (compact low-S signatures only): test/vectors/wycheproof/README.md.
 */

const DIR = fileURLToPath(new URL('../vectors/wycheproof/', import.meta.url))
const CURVE_ORDER = secp256k1.Point.CURVE().n
const HALF_ORDER = CURVE_ORDER >> 1n
const VERIFIERS: ReadonlyArray<readonly [string, SignatureVerifier]> = [['noble', verifyNoble], ['native', verifyNative]]

interface WycheproofTest {
  readonly tcId: number
  readonly comment: string
  readonly flags: readonly string[]
  readonly msg: string
  readonly sig: string
  readonly result: 'valid' | 'invalid' | 'acceptable'
}

interface WycheproofFile {
  readonly numberOfTests: number
  readonly testGroups: ReadonlyArray<{ readonly publicKey: { readonly uncompressed: string }, readonly sha: string, readonly tests: readonly WycheproofTest[] }>
}

/** One vector as fedgate sees it: the compact signature to verify (if it has one) and whether it must verify. */
interface Case {
  readonly id: string
  readonly message: Uint8Array
  readonly publicKey: string
  readonly compact: string | undefined
  readonly raw: string
  readonly verifies: boolean
}

async function load (name: string): Promise<WycheproofFile> {
  return JSON.parse(await readFile(`${DIR}${name}`, 'utf8')) as WycheproofFile
}

/** Strict DER: SEQUENCE { INTEGER r, INTEGER s }, short-form lengths, minimal positive integers, nothing after. */
function strictDer (hex: string): { r: bigint, s: bigint } | undefined {
  const bytes = Buffer.from(hex, 'hex')
  let at = 0
  const next = (): number => {
    const byte = bytes[at++]
    if (byte === undefined) throw new RangeError('truncated')
    return byte
  }
  const length = (): number => {
    const byte = next()
    if (byte >= 0x80) throw new RangeError('long-form length')
    return byte
  }
  const integer = (): bigint => {
    if (next() !== 0x02) throw new RangeError('not an INTEGER')
    const size = length()
    const value = bytes.subarray(at, at + size)
    at += size
    const [first = 0, second = 0] = value
    if (size === 0 || value.length !== size) throw new RangeError('bad INTEGER length')
    if ((first & 0x80) !== 0) throw new RangeError('negative')
    if (size > 1 && first === 0 && (second & 0x80) === 0) throw new RangeError('leading zero')
    return BigInt(`0x${value.toString('hex')}`)
  }
  try {
    if (next() !== 0x30 || length() !== bytes.length - at) return undefined
    const r = integer()
    const s = integer()
    return at === bytes.length ? { r, s } : undefined
  } catch {
    return undefined
  }
}

function compactOf (r: bigint, s: bigint): string | undefined {
  if (r >= 2n ** 256n || s >= 2n ** 256n) return undefined
  return r.toString(16).padStart(64, '0') + s.toString(16).padStart(64, '0')
}

function casesOf (file: WycheproofFile, signature: (test: WycheproofTest) => { compact: string | undefined, verifies: boolean }): Case[] {
  return file.testGroups.flatMap(group => {
    assert.equal(group.sha, 'SHA-256')
    const publicKey = secp256k1.Point.fromHex(group.publicKey.uncompressed).toHex(true)
    return group.tests.map(test => ({ id: `tcId ${test.tcId} (${test.comment})`, message: Buffer.from(test.msg, 'hex'), publicKey, raw: test.sig, ...signature(test) }))
  })
}

/** The vectors on which `verify` disagrees with fedgate's expectation. */
function disagreements (cases: readonly Case[], verify: SignatureVerifier): string[] {
  const wrong: string[] = []
  for (const c of cases) {
    if (c.compact !== undefined && verify(c.message, c.compact, c.publicKey) !== c.verifies) wrong.push(`${c.id}: expected ${c.verifies ? 'valid' : 'refused'}`)
  }
  return wrong
}

describe('Wycheproof secp256k1 ECDSA vectors', () => {
  it('P1363 (compact r||s): exactly the valid low-S 64-byte signatures verify, with both verifiers', async () => {
    const file = await load('ecdsa_secp256k1_sha256_p1363_test.json')
    const cases = casesOf(file, test => {
      const compactForm = test.sig.length === 128
      const lowS = compactForm && BigInt(`0x${test.sig.slice(64)}`) <= HALF_ORDER
      return { compact: test.sig, verifies: test.result === 'valid' && compactForm && lowS }
    })
    assert.equal(cases.length, file.numberOfTests)
    assert.ok(cases.every(c => c.compact !== undefined))
    const valid = file.testGroups.flatMap(g => g.tests).filter(t => t.result === 'valid').length
    const mustVerify = cases.filter(c => c.verifies).length
    assert.ok(mustVerify > 0 && mustVerify < valid, 'some valid signatures are high-S twins, which fedgate refuses')
    for (const [name, verify] of VERIFIERS) assert.deepEqual(disagreements(cases, verify), [], name)
  })

  it('Bitcoin (DER, low-S): strict DER carried to compact form verifies exactly as Wycheproof says; DER itself never verifies', async () => {
    const file = await load('ecdsa_secp256k1_sha256_bitcoin_test.json')
    const cases = casesOf(file, test => {
      const der = strictDer(test.sig)
      const compact = der === undefined ? undefined : compactOf(der.r, der.s)
      if (compact === undefined) assert.notEqual(test.result, 'valid', `tcId ${test.tcId}: a valid signature is strict DER`)
      return { compact, verifies: test.result === 'valid' }
    })
    assert.equal(cases.length, file.numberOfTests)
    const carried = cases.filter(c => c.compact !== undefined)
    assert.ok(carried.some(c => !c.verifies) && carried.some(c => c.verifies), 'both verdicts are exercised')
    for (const [name, verify] of VERIFIERS) {
      assert.deepEqual(disagreements(cases, verify), [], name)
      assert.deepEqual(cases.filter(c => verify(c.message, c.raw, c.publicKey)).map(c => c.id), [], `${name} refuses every DER-encoded signature`)
    }
  })
})
