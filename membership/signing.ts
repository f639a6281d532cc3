import canonicalize from 'canonicalize'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes, nodeCrypto, sha256, utf8 } from './bytes.ts'
import { MalformedError } from './errors.ts'

/** Domain-separation prefixes: a signature over one object type never verifies as another. */
export const DOMAIN = {
  roster: 'fedgate/roster/v1',
  credential: 'fedgate/credential/v1'
} as const

export type Domain = keyof typeof DOMAIN

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_ORDER = CURVE_ORDER >> 1n
const SEPARATOR = new Uint8Array([0])

/** RFC 8785 canonical JSON, as UTF-8 bytes. */
export function canonicalBytes (value: unknown): Uint8Array {
  const text = canonicalize(value)
  if (text === undefined) throw new MalformedError('$', 'value cannot be canonicalized')
  return utf8(text)
}

/** Hex SHA-256 of the canonical form of a signed object. */
export function fingerprint (signedObject: unknown): string {
  return bytesToHex(sha256(canonicalBytes(signedObject)))
}

/**
 * The 32-byte message that is signed: SHA-256(prefix || 0x00 || canonical(unsigned object)).
 * ECDSA then hashes this message once more with SHA-256, so both noble and OpenSSL sign and verify
 * the same short input whatever the size of the object.
 */
export function signingMessage (domain: Domain, unsignedObject: unknown): Uint8Array {
  return sha256(utf8(DOMAIN[domain]), SEPARATOR, canonicalBytes(unsignedObject))
}

/** Signs with a secp256k1 secret key: compact 64-byte low-S signature, as hex. */
export function signMessage (message: Uint8Array, secretKey: Uint8Array): string {
  return bytesToHex(secp256k1.sign(message, secretKey, { prehash: true, lowS: true }))
}

/** Verifies with @noble/curves (pure JavaScript). High-S and malformed signatures are rejected. */
export function verifyNoble (message: Uint8Array, signatureHex: string, publicKeyHex: string): boolean {
  try {
    return secp256k1.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex), { prehash: true, lowS: true })
  } catch {
    return false
  }
}

type KeyObject = import('node:crypto').KeyObject

const keyObjects = new Map<string, KeyObject | null>()
const KEY_OBJECT_CACHE_MAX = 4096

/** Node's OpenSSL KeyObject for a compressed secp256k1 key, cached; null when not a curve point. */
function keyObject (publicKeyHex: string): KeyObject | null {
  let key = keyObjects.get(publicKeyHex)
  if (key !== undefined) return key
  try {
    if (nodeCrypto === undefined) throw new Error('no native crypto')
    const point = secp256k1.Point.fromBytes(hexToBytes(publicKeyHex)).toBytes(false)
    key = nodeCrypto.createPublicKey({
      format: 'jwk',
      key: { kty: 'EC', crv: 'secp256k1', x: base64url(point.subarray(1, 33)), y: base64url(point.subarray(33, 65)) }
    })
  } catch {
    key = null
  }
  if (keyObjects.size >= KEY_OBJECT_CACHE_MAX) keyObjects.clear()
  keyObjects.set(publicKeyHex, key)
  return key
}

function base64url (bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

/**
 * Verifies with Node's native crypto (OpenSSL), enforcing low-S like noble does. Always false where
 * Node's crypto or its secp256k1 support is missing: use `verifySignature`, which checks that first.
 */
export function verifyNative (message: Uint8Array, signatureHex: string, publicKeyHex: string): boolean {
  if (nodeCrypto === undefined || signatureHex.length !== 128 || !/^[0-9a-f]+$/i.test(signatureHex)) return false
  const r = BigInt('0x' + signatureHex.slice(0, 64))
  const s = BigInt('0x' + signatureHex.slice(64))
  if (r === 0n || s === 0n || r >= CURVE_ORDER || s > HALF_ORDER) return false
  const key = keyObject(publicKeyHex)
  if (key === null) return false
  try {
    return nodeCrypto.verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, hexToBytes(signatureHex))
  } catch {
    return false
  }
}

export type SignatureVerifier = (message: Uint8Array, signatureHex: string, publicKeyHex: string) => boolean

/**
 * A known-answer test of the native verifier: a fixed key and message, one good signature and two
 * bad ones (tampered message, high-S twin). It fails on a Node whose OpenSSL lacks secp256k1.
 */
export function nativeVerifierWorks (): boolean {
  const secretKey = hexToBytes('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721')
  const publicKey = bytesToHex(secp256k1.getPublicKey(secretKey, true))
  const message = sha256(utf8('fedgate native verifier self-test'))
  const good = signMessage(message, secretKey)
  const tampered = sha256(utf8('fedgate native verifier self-test, tampered'))
  return verifyNative(message, good, publicKey) &&
    !verifyNative(tampered, good, publicKey) &&
    !verifyNative(message, toHighS(good), publicKey)
}

interface Backend { readonly verify: SignatureVerifier, readonly name: 'native' | 'noble' }

let chosen: Backend | undefined

function backend (): Backend {
  chosen ??= nativeVerifierWorks() ? { verify: verifyNative, name: 'native' } : { verify: verifyNoble, name: 'noble' }
  return chosen
}

/** Which verifier `verifySignature` uses: native OpenSSL when its self-test passes, else noble. */
export function signatureBackend (): 'native' | 'noble' {
  return backend().name
}

/**
 * The verifier on the hot path: native OpenSSL (about 5x noble, scripts/bench-membership.ts) after a
 * known-answer self-test on first use, noble when that test fails.
 */
export const verifySignature: SignatureVerifier = (message, signatureHex, publicKeyHex) => backend().verify(message, signatureHex, publicKeyHex)

/** Flips a low-S signature to its high-S twin: only for tests of malleability rejection. */
export function toHighS (signatureHex: string): string {
  const s = BigInt('0x' + signatureHex.slice(64))
  return signatureHex.slice(0, 64) + (CURVE_ORDER - s).toString(16).padStart(64, '0')
}
