import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto'
import canonicalize from 'canonicalize'
import * as secp from '@noble/secp256k1'
import { sha256 } from '@noble/hashes/sha2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { MalformedError } from './errors.ts'

secp.hashes.sha256 = sha256
secp.hashes.hmacSha256 = (key, msg) => hmac(sha256, key, msg)

/** Domain-separation prefixes: a signature over one object type never verifies as another. */
export const DOMAIN = {
  roster: 'fedgate/roster/v1',
  credential: 'fedgate/credential/v1'
} as const

export type Domain = keyof typeof DOMAIN

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_ORDER = CURVE_ORDER >> 1n

/** RFC 8785 canonical JSON, as UTF-8 bytes. */
export function canonicalBytes (value: unknown): Uint8Array {
  const text = canonicalize(value)
  if (text === undefined) {
    throw new MalformedError('$', 'value cannot be canonicalized')
  }
  return Buffer.from(text, 'utf8')
}

/** Hex SHA-256 of the canonical form of a signed object. */
export function fingerprint (signedObject: unknown): string {
  return createHash('sha256').update(canonicalBytes(signedObject)).digest('hex')
}

/**
 * The 32-byte message that is signed: SHA-256(prefix || 0x00 || canonical(unsigned object)).
 * ECDSA then hashes this message once more with SHA-256, so both noble and OpenSSL sign and verify
 * the same short input whatever the size of the object.
 */
export function signingMessage (domain: Domain, unsignedObject: unknown): Uint8Array {
  return createHash('sha256')
    .update(DOMAIN[domain])
    .update(new Uint8Array([0]))
    .update(canonicalBytes(unsignedObject))
    .digest()
}

/** Signs with a secp256k1 secret key: compact 64-byte low-S signature, as hex. */
export function signMessage (message: Uint8Array, secretKey: Uint8Array): string {
  return bytesToHex(secp.sign(message, secretKey, { lowS: true, prehash: true }))
}

/** Verifies with @noble/secp256k1. High-S and malformed signatures are rejected. */
export function verifyNoble (message: Uint8Array, signatureHex: string, publicKeyHex: string): boolean {
  try {
    return secp.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex), { lowS: true, prehash: true })
  } catch {
    return false
  }
}

const keyObjects = new Map<string, KeyObject | null>()
const KEY_OBJECT_CACHE_MAX = 4096

/** Node's OpenSSL KeyObject for a compressed secp256k1 key, cached; null when not a curve point. */
function keyObject (publicKeyHex: string): KeyObject | null {
  let key = keyObjects.get(publicKeyHex)
  if (key !== undefined) return key
  try {
    const point = secp.Point.fromBytes(hexToBytes(publicKeyHex)).toBytes(false)
    key = createPublicKey({
      format: 'jwk',
      key: {
        kty: 'EC',
        crv: 'secp256k1',
        x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(point.subarray(33, 65)).toString('base64url')
      }
    })
  } catch {
    key = null
  }
  if (keyObjects.size >= KEY_OBJECT_CACHE_MAX) keyObjects.clear()
  keyObjects.set(publicKeyHex, key)
  return key
}

/** Verifies with Node's native crypto (OpenSSL), enforcing low-S like noble does. */
export function verifyNative (message: Uint8Array, signatureHex: string, publicKeyHex: string): boolean {
  if (signatureHex.length !== 128) return false
  const sig = Buffer.from(signatureHex, 'hex')
  if (sig.length !== 64) return false
  const r = BigInt('0x' + signatureHex.slice(0, 64))
  const s = BigInt('0x' + signatureHex.slice(64))
  if (r === 0n || s === 0n || r >= CURVE_ORDER || s > HALF_ORDER) return false
  const key = keyObject(publicKeyHex)
  if (key === null) return false
  try {
    return nodeVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig)
  } catch {
    return false
  }
}

export type SignatureVerifier = (message: Uint8Array, signatureHex: string, publicKeyHex: string) => boolean

/** The verifier on the hot path: native OpenSSL, measured faster than noble (scripts/bench-membership.ts). */
export const verifySignature: SignatureVerifier = verifyNative

/** Flips a low-S signature to its high-S twin: only for tests of malleability rejection. */
export function toHighS (signatureHex: string): string {
  const s = BigInt('0x' + signatureHex.slice(64))
  return signatureHex.slice(0, 64) + (CURVE_ORDER - s).toString(16).padStart(64, '0')
}
