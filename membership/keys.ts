import { readFile, stat } from 'node:fs/promises'
import * as secp from '@noble/secp256k1'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import writeFileAtomic from 'write-file-atomic'
import { KeyFileError, MalformedError } from './errors.ts'
import { fields, obj, str, HEX_SECP256K1_PUB } from './validate.ts'
import './signing.ts'

/** Admin keys sign roster epochs; member keys sign credentials. Both are secp256k1. */
export type SigningKeyKind = 'admin' | 'member'
export type KeyKind = SigningKeyKind | 'node'
export type NodeKeyType = 'Ed25519' | 'secp256k1'

export interface SigningKey {
  readonly kind: SigningKeyKind
  /** Compressed secp256k1 public key, 66 hex characters. */
  readonly publicKey: string
  readonly secretKey: Uint8Array
}

export interface NodeKey {
  readonly kind: 'node'
  readonly type: NodeKeyType
  readonly peerId: string
  readonly privateKey: PrivateKey
}

export type KeyFile = SigningKey | NodeKey

export const KEY_FILE_MODE = 0o600

export function generateSigningKey (kind: SigningKeyKind): SigningKey {
  const { secretKey, publicKey } = secp.keygen()
  return { kind, publicKey: bytesToHex(publicKey), secretKey }
}

/** A signing key from a 32-byte secret: for deterministic test vectors. */
export function signingKeyFromSecret (kind: SigningKeyKind, secretKey: Uint8Array): SigningKey {
  return { kind, publicKey: bytesToHex(secp.getPublicKey(secretKey, true)), secretKey }
}

export async function generateNodeKey (type: NodeKeyType = 'Ed25519'): Promise<NodeKey> {
  const privateKey = await generateKeyPair(type)
  return nodeKeyFromPrivateKey(privateKey)
}

export function nodeKeyFromPrivateKey (privateKey: PrivateKey): NodeKey {
  if (privateKey.type !== 'Ed25519' && privateKey.type !== 'secp256k1') {
    throw new MalformedError('privateKey', `node keys must be Ed25519 or secp256k1, got ${privateKey.type}`)
  }
  return { kind: 'node', type: privateKey.type, peerId: peerIdFromPrivateKey(privateKey).toString(), privateKey }
}

/** The JSON document stored in a key file. */
export function encodeKeyFile (key: KeyFile): string {
  const doc = key.kind === 'node'
    ? { kind: key.kind, type: key.type, peerId: key.peerId, privateKey: Buffer.from(privateKeyToProtobuf(key.privateKey)).toString('base64') }
    : { kind: key.kind, type: 'secp256k1', publicKey: key.publicKey, privateKey: bytesToHex(key.secretKey) }
  return JSON.stringify(doc, null, 2) + '\n'
}

export function decodeKeyFile (text: string, file: string): KeyFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new KeyFileError(file, 'not a fedgate key file (invalid JSON); create one with fedgate keygen')
  }
  try {
    const doc = obj(json, '$')
    const kind = str(doc.kind, '$.kind', { pattern: /^(admin|member|node)$/, hint: 'admin, member or node' })
    if (kind === 'node') {
      fields(doc, '$', ['kind', 'type', 'peerId', 'privateKey'])
      const privateKey = privateKeyFromProtobuf(Buffer.from(str(doc.privateKey, '$.privateKey', { max: 4096 }), 'base64'))
      const key = nodeKeyFromPrivateKey(privateKey)
      if (key.type !== doc.type) {
        throw new MalformedError('$.type', `does not match the private key (a ${key.type} key)`)
      }
      if (key.peerId !== doc.peerId) {
        throw new MalformedError('$.peerId', 'does not match the private key')
      }
      return key
    }
    fields(doc, '$', ['kind', 'type', 'publicKey', 'privateKey'])
    str(doc.type, '$.type', { pattern: /^secp256k1$/, hint: 'admin and member keys are secp256k1' })
    const secretHex = str(doc.privateKey, '$.privateKey', { min: 64, max: 64, pattern: /^[0-9a-f]{64}$/, hint: '64 lowercase hex characters' })
    const publicKey = str(doc.publicKey, '$.publicKey', { min: 66, max: 66, pattern: HEX_SECP256K1_PUB })
    const key = signingKeyFromSecret(kind as SigningKeyKind, hexToBytes(secretHex))
    if (key.publicKey !== publicKey) {
      throw new MalformedError('$.publicKey', 'does not match the private key')
    }
    return key
  } catch (err) {
    if (err instanceof KeyFileError) throw err
    throw new KeyFileError(file, `${err instanceof Error ? err.message : String(err)}; regenerate it with fedgate keygen`)
  }
}

/** Writes a key file atomically with mode 0600. Refuses to overwrite an existing key. */
export async function writeKeyFile (file: string, key: KeyFile, opts: { overwrite?: boolean } = {}): Promise<void> {
  if (opts.overwrite !== true) {
    const exists = await stat(file).then(() => true, () => false)
    if (exists) {
      throw new KeyFileError(file, 'already exists; refusing to overwrite a key (move it away first)')
    }
  }
  await writeFileAtomic(file, encodeKeyFile(key), { mode: KEY_FILE_MODE, fsync: true })
}

/** Reads a key file, refusing one that group or others can read, or one of another kind. */
export async function readKeyFile (file: string): Promise<KeyFile>
export async function readKeyFile (file: string, kind: 'node'): Promise<NodeKey>
export async function readKeyFile (file: string, kind: SigningKeyKind): Promise<SigningKey>
export async function readKeyFile (file: string, kind?: KeyKind): Promise<KeyFile> {
  let mode: number
  let text: string
  try {
    mode = (await stat(file)).mode
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new KeyFileError(file, code === 'ENOENT' ? 'no such key file; create it with fedgate keygen' : `cannot read key file (${code ?? String(err)})`)
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(file, `key file is readable by group or others (mode ${(mode & 0o777).toString(8)}); fix it with: chmod 600 ${file}`)
  }
  const key = decodeKeyFile(text, file)
  if (kind !== undefined && key.kind !== kind) {
    throw new KeyFileError(file, `expected ${article(kind)} ${kind} key, found ${article(key.kind)} ${key.kind} key; create one with fedgate keygen ${kind}`)
  }
  return key
}

function article (word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a'
}
