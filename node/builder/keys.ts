import { generateKeyPairFromSeed, privateKeyFromRaw } from '@libp2p/crypto/keys'
import {
  generateSigningKey, sha256, signingKeyFromSecret, utf8, type NodeKeyType, type SigningKey, type SigningKeyKind
} from '../../membership/index.ts'
import { generateNodeKey, nodeKeyFromPrivateKey, type NodeKey } from '../node-key.ts'

export interface FederationKeysInit {
  /**
   * Derive every key from this text instead of drawing it at random, so that the same names give the
   * same keys on every run (reproducible tests and vectors): the secret of the key named `label` is
   * SHA-256(`${seed} ${kind} ${label}`), `kind` being admin, member or node.
   * @default random keys
   */
  readonly seed?: string
}

/** The 32 secret bytes `seed` gives the key named `label` (`label` starts with the key's kind). */
export function seededSecret (seed: string, label: string): Uint8Array {
  return sha256(utf8(`${seed} ${label}`))
}

/**
 * A federation's keys by name: admin and member keys (secp256k1) and node keys (libp2p identities).
 * Each is made on first use and kept, so a name always means the same key.
 */
export class FederationKeys {
  readonly seed: string | undefined
  private readonly signing = new Map<string, SigningKey>()
  private readonly nodes = new Map<string, { readonly type: NodeKeyType, readonly key: Promise<NodeKey> }>()

  constructor (init: FederationKeysInit = {}) {
    this.seed = init.seed
  }

  /** The admin or member key named `label`. */
  signingKey (kind: SigningKeyKind, label: string): SigningKey {
    const name = `${kind} ${label}`
    let key = this.signing.get(name)
    if (key === undefined) {
      key = this.seed === undefined ? generateSigningKey(kind) : signingKeyFromSecret(kind, seededSecret(this.seed, name))
      this.signing.set(name, key)
    }
    return key
  }

  /** The node key named `name`; asking again with another key type is an error. */
  async nodeKey (name: string, type: NodeKeyType = 'Ed25519'): Promise<NodeKey> {
    const known = this.nodes.get(name)
    if (known !== undefined) {
      if (known.type !== type) throw new Error(`node key ${JSON.stringify(name)} is ${known.type}, not ${type}`)
      return await known.key
    }
    const key = this.seed === undefined ? generateNodeKey(type) : seededNodeKey(this.seed, name, type)
    this.nodes.set(name, { type, key })
    return await key
  }
}

async function seededNodeKey (seed: string, name: string, type: NodeKeyType): Promise<NodeKey> {
  const secret = seededSecret(seed, `node ${name}`)
  // A 32-byte raw private key is a secp256k1 scalar; Ed25519 expands its 32-byte seed.
  return nodeKeyFromPrivateKey(type === 'Ed25519' ? await generateKeyPairFromSeed('Ed25519', secret) : privateKeyFromRaw(secret))
}
