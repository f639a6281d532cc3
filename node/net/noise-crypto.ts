import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { ICryptoInterface, KeyPair } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'

type Bytes = Parameters<ICryptoInterface['generateX25519SharedKey']>[0]

const X25519_KEY_BYTES = 32
/** DER prefix of a PKCS#8 X25519 private key; the 32 key bytes follow. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/**
 * Node `KeyObject`s behind the raw key bytes Noise holds. Noise passes the same byte object back for
 * every DH with a key (its static key for the node's life, each ephemeral key and remote key for one
 * handshake), so the expensive import happens once per key instead of once per DH. Weak, so a
 * finished handshake's keys are collected with it.
 */
const privateKeys = new WeakMap<object, KeyObject>()
const publicKeys = new WeakMap<object, KeyObject>()

function contiguous (bytes: Bytes): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : bytes.subarray()
}

function fromBase64url (text: string | undefined): Uint8Array {
  if (text === undefined) throw new TypeError('x25519 key export lacks its key bytes')
  // A copy with its own memory: short Buffers share a pool with unrelated data.
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'))
  if (bytes.byteLength !== X25519_KEY_BYTES) throw new TypeError(`x25519 key of ${bytes.byteLength} bytes, expected ${X25519_KEY_BYTES}`)
  return bytes
}

function keyPair (privateKey: KeyObject): KeyPair {
  const jwk = privateKey.export({ format: 'jwk' })
  const pair = { publicKey: fromBase64url(jwk.x), privateKey: fromBase64url(jwk.d) }
  privateKeys.set(pair.privateKey, privateKey)
  return pair
}

function privateKeyObject (bytes: Bytes): KeyObject {
  const cached = privateKeys.get(bytes)
  if (cached !== undefined) return cached
  const raw = contiguous(bytes)
  if (raw.byteLength !== X25519_KEY_BYTES) throw new TypeError(`x25519 private key of ${raw.byteLength} bytes, expected ${X25519_KEY_BYTES}`)
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' })
  privateKeys.set(bytes, key)
  return key
}

function publicKeyObject (bytes: Bytes): KeyObject {
  const cached = publicKeys.get(bytes)
  if (cached !== undefined) return cached
  const raw = contiguous(bytes)
  if (raw.byteLength !== X25519_KEY_BYTES) throw new TypeError(`x25519 public key of ${raw.byteLength} bytes, expected ${X25519_KEY_BYTES}`)
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url') }, format: 'jwk' })
  publicKeys.set(bytes, key)
  return key
}

/**
 * Noise crypto for Node: X25519 runs in OpenSSL on cached `KeyObject`s, where the stock
 * implementation re-imports both keys from DER on every DH (about 1/3 of a handshake's CPU) and
 * exports every ephemeral key as DER. Hashing, HKDF and ChaCha20-Poly1305 are the stock ones
 * (native HKDF measured no faster). The wire format is unchanged: Noise XX with this crypto
 * interoperates with any other Noise XX peer.
 */
export const nodeNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,

  generateX25519KeyPair (): KeyPair {
    return keyPair(generateKeyPairSync('x25519').privateKey)
  },

  generateX25519KeyPairFromSeed (seed: Uint8Array): KeyPair {
    const pair = keyPair(privateKeyObject(seed))
    return { publicKey: pair.publicKey, privateKey: seed }
  },

  generateX25519SharedKey (privateKey: Bytes, publicKey: Bytes): Uint8Array {
    return diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) })
  }
}
