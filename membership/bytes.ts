import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'

/**
 * Byte helpers for the trust core. They use Node's native crypto when it is there (found through
 * `process.getBuiltinModule`, so no static `node:` import reaches a browser bundle) and @noble/hashes
 * otherwise: SHA-256 of a 28 MB roster takes about 30 ms natively and about 250 ms in JavaScript.
 */

type NodeCrypto = typeof import('node:crypto')

interface MaybeNodeProcess {
  getBuiltinModule?: (id: string) => unknown
}

/** Node's crypto module, or undefined outside Node (a browser, a worker without it). */
export const nodeCrypto: NodeCrypto | undefined = ((globalThis as { process?: MaybeNodeProcess }).process?.getBuiltinModule?.('node:crypto')) as NodeCrypto | undefined

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function utf8 (text: string): Uint8Array {
  return encoder.encode(text)
}

/** Decodes UTF-8, throwing TypeError on invalid bytes. */
export function fromUtf8 (bytes: Uint8Array): string {
  return decoder.decode(bytes)
}

/** Byte length of `text` in UTF-8, without encoding it. */
export function utf8Length (text: string): number {
  let length = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) length += 1
    else if (c < 0x800) length += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) { length += 4; i++ } else length += 3
  }
  return length
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256 (...parts: Uint8Array[]): Uint8Array {
  if (nodeCrypto !== undefined) {
    const hash = nodeCrypto.createHash('sha256')
    for (const part of parts) hash.update(part)
    return new Uint8Array(hash.digest())
  }
  const hash = nobleSha256.create()
  for (const part of parts) hash.update(part)
  return hash.digest()
}

export function randomBytes (length: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(length))
}

export { bytesToHex, hexToBytes }
