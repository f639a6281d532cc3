import { base58btc } from 'multiformats/bases/base58'

/** The key types a fedgate node key may have. */
export type NodeKeyType = 'Ed25519' | 'secp256k1'

/** Protobuf PublicKey { Type (field 1), Data (field 2) } inside an identity multihash. */
const KEY_TYPES: ReadonlyMap<number, { type: NodeKeyType, length: number }> = new Map([
  [1, { type: 'Ed25519', length: 32 }],
  [2, { type: 'secp256k1', length: 33 }]
])
const IDENTITY_MULTIHASH = 0x00

/**
 * The key type a PeerId string embeds, or undefined when it is not an Ed25519 or secp256k1 PeerId
 * with an embedded public key. Pure: no libp2p, so the trust core stays free of it.
 */
export function peerIdKeyType (peerId: string): NodeKeyType | undefined {
  let bytes: Uint8Array
  try {
    bytes = base58btc.baseDecode(peerId)
  } catch {
    return undefined
  }
  // identity multihash: 0x00, length, then protobuf: 0x08 type, 0x12 length, key bytes
  if (bytes.length < 6 || bytes[0] !== IDENTITY_MULTIHASH || bytes[1] !== bytes.length - 2) return undefined
  if (bytes[2] !== 0x08 || bytes[4] !== 0x12) return undefined
  const known = KEY_TYPES.get(bytes[3] ?? -1)
  if (known === undefined || bytes[5] !== known.length || bytes.length !== 6 + known.length) return undefined
  return known.type
}
