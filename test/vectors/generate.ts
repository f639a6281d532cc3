/**
 * Writes the membership test vectors (keys.json, roster.json, credential.json) from fixed secret
 * keys and fixed times. Run it only when a format change is intended:
 *
 *   node test/vectors/generate.ts
 *
 * test/membership/vectors.test.ts rebuilds the same objects and requires byte-identical results.
 */
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPairFromSeed, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  addMember, allowProtocol, canonicalBytes, initRoster, issueCredential, nodeKeyFromPrivateKey, revoke,
  signingKeyFromSecret, signRoster, type CredentialDocument, type RosterDocument, type RosterSignature, type SigningKey
} from '../../node/index.ts'

export const VECTORS_DIR = dirname(fileURLToPath(import.meta.url))

/** Times the vectors are built at: fixed, so the signed bytes are too. */
export const ROSTER_TIME = '2026-11-29T00:00:00Z'
export const CREDENTIAL_NOT_BEFORE = '2026-11-29T12:00:00Z'
export const CREDENTIAL_TTL_MS = 24 * 3_600_000

export interface KeyVector {
  readonly secretKey: string
  readonly publicKey: string
}

export interface KeysVectors {
  readonly description: string
  readonly admins: readonly KeyVector[]
  readonly member: KeyVector
  readonly otherMember: KeyVector
  readonly node: {
    readonly type: 'Ed25519'
    readonly seed: string
    /** libp2p protobuf encoding of the public key, hex. */
    readonly publicKey: string
    readonly peerId: string
  }
}

export interface RosterVectors {
  readonly description: string
  readonly domain: string
  /** RFC 8785 canonical form of the roster without its signatures. */
  readonly canonical: string
  /** SHA-256(domain || 0x00 || canonical), hex: what the admins sign. */
  readonly signingMessage: string
  /** Hex SHA-256 of the canonical signed roster. */
  readonly fingerprint: string
  readonly signatures: readonly RosterSignature[]
  readonly document: RosterDocument
  /** The stored file form (Roster.encode). */
  readonly encoded: string
}

export interface CredentialVectors {
  readonly description: string
  readonly domain: string
  readonly canonical: string
  readonly signingMessage: string
  readonly fingerprint: string
  readonly signature: string
  readonly document: CredentialDocument
  /** The wire form (Credential.encode). */
  readonly encoded: string
}

export interface Vectors {
  readonly keys: KeysVectors
  readonly roster: RosterVectors
  readonly credential: CredentialVectors
}

function secret (label: string): Uint8Array {
  return createHash('sha256').update(`fedgate vector ${label}`).digest()
}

function keyVector (key: SigningKey): KeyVector {
  return { secretKey: Buffer.from(key.secretKey).toString('hex'), publicKey: key.publicKey }
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** Builds every vector from the fixed keys and times, through the public membership API. */
export async function buildVectors (): Promise<Vectors> {
  const admin1 = signingKeyFromSecret('admin', secret('admin 1'))
  const admin2 = signingKeyFromSecret('admin', secret('admin 2'))
  const admin3 = signingKeyFromSecret('admin', secret('admin 3'))
  const admins = [admin1, admin2, admin3]
  const member = signingKeyFromSecret('member', secret('member val-acme'))
  const otherMember = signingKeyFromSecret('member', secret('member relay-bridgeco'))
  const nodeSeed = secret('node val-acme-1')
  const node = nodeKeyFromPrivateKey(await generateKeyPairFromSeed('Ed25519', nodeSeed))
  const now = Date.parse(ROSTER_TIME)

  let roster = initRoster({ federation: 'vector-fed', admins: admins.map(a => a.publicKey), threshold: 2, now })
  roster = addMember(roster, {
    id: 'val-acme',
    org: 'acme',
    roles: ['validator'],
    key: member.publicKey,
    addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${node.peerId}`],
    maxConnections: 4
  }, now)
  roster = addMember(roster, { id: 'relay-bridgeco', org: 'bridgeco', roles: ['relayer', 'full-node'], key: otherMember.publicKey }, now)
  roster = revoke(roster, { member: 'val-retired' }, now)
  roster = revoke(roster, { credential: hex(secret('revoked credential')) }, now)
  roster = allowProtocol(roster, '/chain/consensus/1.0.0', ['validator'], now)
  roster = allowProtocol(roster, '/chain/bridge/1.0.0', ['validator', 'relayer'], now)
  const unsignedRoster = roster
  roster = signRoster(signRoster(roster, admin1), admin3)
  const { signatures, ...rosterUnsigned } = roster.document

  const credential = issueCredential({
    roster,
    memberKey: member,
    memberId: 'val-acme',
    peer: node.peerId,
    roles: ['validator'],
    notBefore: Date.parse(CREDENTIAL_NOT_BEFORE),
    ttlMs: CREDENTIAL_TTL_MS,
    serial: '00000001'
  })
  const { signature, ...credentialUnsigned } = credential.document

  return {
    keys: {
      description: 'Fixed secp256k1 admin and member keys (secret = SHA-256 of a label) and an Ed25519 node key from a fixed seed.',
      admins: admins.map(keyVector),
      member: keyVector(member),
      otherMember: keyVector(otherMember),
      node: { type: 'Ed25519', seed: hex(nodeSeed), publicKey: hex(publicKeyToProtobuf(node.privateKey.publicKey)), peerId: node.peerId }
    },
    roster: {
      description: 'A genesis roster built with initRoster, addMember, revoke and allowProtocol at a fixed time, signed by admins 1 and 3 of 2-of-3.',
      domain: 'fedgate/roster/v1',
      canonical: Buffer.from(canonicalBytes(rosterUnsigned)).toString('utf8'),
      signingMessage: hex(unsignedRoster.signingMessage),
      fingerprint: roster.fingerprint,
      signatures,
      document: roster.document,
      encoded: roster.encode()
    },
    credential: {
      description: 'A 24 h validator credential for the node key, issued by member val-acme under the roster vector.',
      domain: 'fedgate/credential/v1',
      canonical: Buffer.from(canonicalBytes(credentialUnsigned)).toString('utf8'),
      signingMessage: hex(credential.signingMessage),
      fingerprint: credential.fingerprint,
      signature,
      document: credential.document,
      encoded: credential.encode()
    }
  }
}

/** The exact file contents for each vector file. */
export function vectorFiles (vectors: Vectors): Record<string, string> {
  return {
    'keys.json': JSON.stringify(vectors.keys, null, 2) + '\n',
    'roster.json': JSON.stringify(vectors.roster, null, 2) + '\n',
    'credential.json': JSON.stringify(vectors.credential, null, 2) + '\n'
  }
}

if (import.meta.main) {
  const files = vectorFiles(await buildVectors())
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(VECTORS_DIR, name), text)
    process.stdout.write(`wrote ${join(VECTORS_DIR, name)}\n`)
  }
}
