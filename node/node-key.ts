import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { fields, MalformedError, str, type NodeKeyType } from '../membership/index.ts'

/** A node's libp2p identity: Noise proves possession of it, and the credential names its PeerId. */
export interface NodeKey {
  readonly kind: 'node'
  readonly type: NodeKeyType
  readonly peerId: string
  readonly privateKey: PrivateKey
}

/** Ed25519 by default: it verifies natively and handshakes about twice as fast as secp256k1. */
export async function generateNodeKey (type: NodeKeyType = 'Ed25519'): Promise<NodeKey> {
  return nodeKeyFromPrivateKey(await generateKeyPair(type))
}

export function nodeKeyFromPrivateKey (privateKey: PrivateKey): NodeKey {
  if (privateKey.type !== 'Ed25519' && privateKey.type !== 'secp256k1') {
    throw new MalformedError('privateKey', `node keys must be Ed25519 or secp256k1, got ${privateKey.type}`)
  }
  return Object.freeze({ kind: 'node', type: privateKey.type, peerId: peerIdFromPrivateKey(privateKey).toString(), privateKey })
}

/** The JSON document of a node key file. */
export function nodeKeyDocument (key: NodeKey): Record<string, string> {
  return { kind: key.kind, type: key.type, peerId: key.peerId, privateKey: Buffer.from(privateKeyToProtobuf(key.privateKey)).toString('base64') }
}

/** Validates a node key file document. Throws MalformedError naming the field. */
export function nodeKeyFromDocument (doc: Record<string, unknown>): NodeKey {
  fields(doc, '$', ['kind', 'type', 'peerId', 'privateKey'])
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(Buffer.from(str(doc.privateKey, '$.privateKey', { max: 4096 }), 'base64'))
  } catch (err) {
    if (err instanceof MalformedError) throw err
    throw new MalformedError('$.privateKey', 'not a libp2p private key')
  }
  const key = nodeKeyFromPrivateKey(privateKey)
  if (key.type !== doc.type) throw new MalformedError('$.type', `does not match the private key (a ${key.type} key)`)
  if (key.peerId !== doc.peerId) throw new MalformedError('$.peerId', 'does not match the private key')
  return key
}
