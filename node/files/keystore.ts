import { gcm } from '@noble/ciphers/aes.js'
import { scrypt } from '@noble/hashes/scrypt.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js'
import canonicalize from 'canonicalize'
import {
  fields, fromUtf8, int, MalformedError, obj, signingKeyDocument, signingKeyFromDocument, str, utf8,
  type SigningKey, type SigningKeyKind
} from '../../membership/index.ts'

/**
 * Encrypted admin and member key files, in the style of the EIP-2335 keystore: the secret key
 * document is sealed with AES-256-GCM under a key derived from a passphrase with scrypt. The
 * kind and public key stay in the clear (a roster can be edited with them without the passphrase)
 * and are bound to the ciphertext as associated data, so editing them breaks decryption.
 *
 * scrypt derives 64 bytes: the first 32 are the AES key, the SHA-256 of the last 32 is stored as a
 * checksum. The checksum tells a wrong passphrase from a damaged ciphertext; it gives an attacker
 * nothing the GCM tag would not (both cost one scrypt per guess).
 */
export const KEYSTORE_FORMAT = 'fedgate/keystore/v1'

/** scrypt cost as log2(N). 18 is EIP-2335's default: about 2 s and 256 MiB in JavaScript. */
export const DEFAULT_KDF_COST = 18
/** The costs a keystore may carry: below 14 is too cheap to guess against, above 20 needs over 1 GiB. */
export const MIN_KDF_COST = 14
export const MAX_KDF_COST = 20
const SCRYPT_R = 8
const SCRYPT_P = 1
const DERIVED_KEY_BYTES = 64
const SALT_BYTES = 32
const IV_BYTES = 12
/** A signing key document sealed, with its 16-byte tag, is well under this. */
const MAX_CIPHERTEXT_HEX = 1024

export interface KeystoreDocument {
  readonly format: typeof KEYSTORE_FORMAT
  readonly kind: SigningKeyKind
  readonly publicKey: string
  readonly crypto: {
    readonly kdf: { readonly function: 'scrypt', readonly params: { readonly dklen: number, readonly n: number, readonly r: number, readonly p: number, readonly salt: string } }
    readonly checksum: { readonly function: 'sha256', readonly message: string }
    readonly cipher: { readonly function: 'aes-256-gcm', readonly params: { readonly iv: string }, readonly message: string }
  }
  readonly description: string
}

/** Thrown when a keystore does not open: `reason` says whether the passphrase or the file is at fault. */
export class KeystoreError extends Error {
  override readonly name = 'KeystoreError'
  readonly reason: 'wrong-passphrase' | 'damaged'

  constructor (reason: 'wrong-passphrase' | 'damaged', message: string) {
    super(message)
    this.reason = reason
  }
}

/** True when a parsed key file is a keystore (it has a `crypto` section). */
export function isKeystore (json: unknown): boolean {
  return typeof json === 'object' && json !== null && 'crypto' in json
}

/** Seals `key` under `passphrase`. `cost` is log2 of scrypt's N. */
export function encryptSigningKey (key: SigningKey, passphrase: string, cost: number = DEFAULT_KDF_COST): KeystoreDocument {
  if (!Number.isInteger(cost) || cost < MIN_KDF_COST || cost > MAX_KDF_COST) {
    throw new MalformedError('kdf cost', `must be an integer from ${MIN_KDF_COST} to ${MAX_KDF_COST}`)
  }
  const salt = randomBytes(SALT_BYTES)
  const iv = randomBytes(IV_BYTES)
  const params = { dklen: DERIVED_KEY_BYTES, n: 2 ** cost, r: SCRYPT_R, p: SCRYPT_P, salt: bytesToHex(salt) }
  const derived = scrypt(utf8(passphrase.normalize('NFKD')), salt, { N: params.n, r: params.r, p: params.p, dkLen: params.dklen })
  const header = { format: KEYSTORE_FORMAT, kind: key.kind, publicKey: key.publicKey, kdf: params, iv: bytesToHex(iv) }
  const sealed = gcm(derived.subarray(0, 32), iv, associatedData(header)).encrypt(utf8(JSON.stringify(signingKeyDocument(key))))
  const checksum = bytesToHex(sha256(derived.subarray(32)))
  derived.fill(0)
  return {
    format: KEYSTORE_FORMAT,
    kind: key.kind,
    publicKey: key.publicKey,
    crypto: {
      kdf: { function: 'scrypt', params },
      checksum: { function: 'sha256', message: checksum },
      cipher: { function: 'aes-256-gcm', params: { iv: bytesToHex(iv) }, message: bytesToHex(sealed) }
    },
    description: `fedgate ${key.kind} key, encrypted with a passphrase (scrypt, AES-256-GCM); fedgate key decrypt FILE turns it back into a plain key file`
  }
}

/** The clear part of a keystore, checked: what can be known without the passphrase. */
export function keystoreHeader (json: unknown): { kind: SigningKeyKind, publicKey: string } {
  const doc = parseKeystore(json)
  return { kind: doc.kind, publicKey: doc.publicKey }
}

/** Opens a keystore. Throws MalformedError for a bad format, KeystoreError for a wrong passphrase or damage. */
export function decryptSigningKey (json: unknown, passphrase: string): SigningKey {
  const doc = parseKeystore(json)
  const { params } = doc.crypto.kdf
  const salt = hexToBytes(params.salt)
  const derived = scrypt(utf8(passphrase.normalize('NFKD')), salt, { N: params.n, r: params.r, p: params.p, dkLen: params.dklen })
  try {
    if (bytesToHex(sha256(derived.subarray(32))) !== doc.crypto.checksum.message) {
      throw new KeystoreError('wrong-passphrase', 'wrong passphrase')
    }
    const iv = doc.crypto.cipher.params.iv
    const header = { format: doc.format, kind: doc.kind, publicKey: doc.publicKey, kdf: params, iv }
    let plain: Uint8Array
    try {
      plain = gcm(derived.subarray(0, 32), hexToBytes(iv), associatedData(header)).decrypt(hexToBytes(doc.crypto.cipher.message))
    } catch {
      throw new KeystoreError('damaged', 'the passphrase is right but the encrypted key or its clear fields were changed or truncated')
    }
    let key: SigningKey
    try {
      key = signingKeyFromDocument(JSON.parse(fromUtf8(plain)))
    } catch {
      throw new KeystoreError('damaged', 'the decrypted key is not a valid key document')
    }
    if (key.kind !== doc.kind || key.publicKey !== doc.publicKey) throw new KeystoreError('damaged', 'the decrypted key does not match the clear kind and publicKey')
    return key
  } finally {
    derived.fill(0)
  }
}

function parseKeystore (json: unknown): KeystoreDocument {
  const doc = obj(json, '$')
  fields(doc, '$', ['format', 'kind', 'publicKey', 'crypto'], ['description'])
  str(doc.format, '$.format', { pattern: /^fedgate\/keystore\/v1$/, hint: KEYSTORE_FORMAT })
  const kind = str(doc.kind, '$.kind', { pattern: /^(admin|member)$/, hint: 'admin or member' }) as SigningKeyKind
  const publicKey = str(doc.publicKey, '$.publicKey', { min: 66, max: 66, pattern: /^0[23][0-9a-f]{64}$/ })
  const crypto = obj(doc.crypto, '$.crypto')
  fields(crypto, '$.crypto', ['kdf', 'checksum', 'cipher'])
  const kdf = obj(crypto.kdf, '$.crypto.kdf')
  fields(kdf, '$.crypto.kdf', ['function', 'params'], ['message'])
  str(kdf.function, '$.crypto.kdf.function', { pattern: /^scrypt$/, hint: 'scrypt' })
  const p = obj(kdf.params, '$.crypto.kdf.params')
  fields(p, '$.crypto.kdf.params', ['dklen', 'n', 'r', 'p', 'salt'])
  int(p.dklen, '$.crypto.kdf.params.dklen', DERIVED_KEY_BYTES, DERIVED_KEY_BYTES)
  const n = int(p.n, '$.crypto.kdf.params.n', 2 ** MIN_KDF_COST, 2 ** MAX_KDF_COST)
  if (!Number.isInteger(Math.log2(n))) throw new MalformedError('$.crypto.kdf.params.n', 'must be a power of two')
  int(p.r, '$.crypto.kdf.params.r', SCRYPT_R, SCRYPT_R)
  int(p.p, '$.crypto.kdf.params.p', SCRYPT_P, SCRYPT_P)
  const salt = str(p.salt, '$.crypto.kdf.params.salt', { min: 32, max: 128, pattern: /^([0-9a-f]{2})+$/, hint: 'hex' })
  const checksum = obj(crypto.checksum, '$.crypto.checksum')
  fields(checksum, '$.crypto.checksum', ['function', 'message'], ['params'])
  str(checksum.function, '$.crypto.checksum.function', { pattern: /^sha256$/, hint: 'sha256' })
  const sum = str(checksum.message, '$.crypto.checksum.message', { min: 64, max: 64, pattern: /^[0-9a-f]{64}$/ })
  const cipher = obj(crypto.cipher, '$.crypto.cipher')
  fields(cipher, '$.crypto.cipher', ['function', 'params', 'message'])
  str(cipher.function, '$.crypto.cipher.function', { pattern: /^aes-256-gcm$/, hint: 'aes-256-gcm' })
  const cp = obj(cipher.params, '$.crypto.cipher.params')
  fields(cp, '$.crypto.cipher.params', ['iv'])
  const iv = str(cp.iv, '$.crypto.cipher.params.iv', { min: 2 * IV_BYTES, max: 2 * IV_BYTES, pattern: /^[0-9a-f]+$/, hint: `${IV_BYTES} bytes of hex` })
  const message = str(cipher.message, '$.crypto.cipher.message', { min: 34, max: MAX_CIPHERTEXT_HEX, pattern: /^([0-9a-f]{2})+$/, hint: 'hex; the file may be truncated' })
  return {
    format: KEYSTORE_FORMAT,
    kind,
    publicKey,
    crypto: {
      kdf: { function: 'scrypt', params: { dklen: DERIVED_KEY_BYTES, n, r: SCRYPT_R, p: SCRYPT_P, salt } },
      checksum: { function: 'sha256', message: sum },
      cipher: { function: 'aes-256-gcm', params: { iv }, message }
    },
    description: typeof doc.description === 'string' ? doc.description : ''
  }
}

/** The clear fields, canonical (RFC 8785), authenticated with the ciphertext. */
function associatedData (header: object): Uint8Array {
  return utf8(canonicalize(header) ?? '')
}
