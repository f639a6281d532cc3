import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, hexToBytes } from './bytes.ts'
import { MalformedError } from './errors.ts'
import { fields, obj, str, HEX_SECP256K1_PUB } from './validate.ts'

/** Admin keys sign roster epochs; member keys sign credentials. Both are secp256k1. */
export type SigningKeyKind = 'admin' | 'member'

export interface SigningKey {
  readonly kind: SigningKeyKind
  /** Compressed secp256k1 public key, 66 hex characters. */
  readonly publicKey: string
  readonly secretKey: Uint8Array
}

export function generateSigningKey (kind: SigningKeyKind): SigningKey {
  return signingKeyFromSecret(kind, secp256k1.utils.randomSecretKey())
}

/** A signing key from a 32-byte secret: for deterministic test vectors. */
export function signingKeyFromSecret (kind: SigningKeyKind, secretKey: Uint8Array): SigningKey {
  return Object.freeze({ kind, publicKey: bytesToHex(secp256k1.getPublicKey(secretKey, true)), secretKey })
}

/** The JSON document of a signing key file (the CLI writes it with mode 0600). */
export function signingKeyDocument (key: SigningKey): Record<string, string> {
  return { kind: key.kind, type: 'secp256k1', publicKey: key.publicKey, privateKey: bytesToHex(key.secretKey) }
}

/** Validates a signing key file document. Throws MalformedError naming the field. */
export function signingKeyFromDocument (json: unknown): SigningKey {
  const doc = obj(json, '$')
  fields(doc, '$', ['kind', 'type', 'publicKey', 'privateKey'])
  const kind = str(doc.kind, '$.kind', { pattern: /^(admin|member)$/, hint: 'admin or member' }) as SigningKeyKind
  str(doc.type, '$.type', { pattern: /^secp256k1$/, hint: 'admin and member keys are secp256k1' })
  const secretHex = str(doc.privateKey, '$.privateKey', { min: 64, max: 64, pattern: /^[0-9a-f]{64}$/, hint: '64 lowercase hex characters' })
  const publicKey = str(doc.publicKey, '$.publicKey', { min: 66, max: 66, pattern: HEX_SECP256K1_PUB })
  let key: SigningKey
  try {
    key = signingKeyFromSecret(kind, hexToBytes(secretHex))
  } catch {
    throw new MalformedError('$.privateKey', 'not a valid secp256k1 secret key')
  }
  if (key.publicKey !== publicKey) throw new MalformedError('$.publicKey', 'does not match the private key')
  return key
}
