import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex, Roster, type Member, type Revocation } from '../../../membership/index.ts'
import type { FederationBuilder } from '../../builder/index.ts'
import { BENCH_FEDERATION } from '../federation.ts'

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/** Deterministic base58 text shaped like a PeerId, for addresses and revocations (format-valid, not a key). */
export function fakePeerId (n: number): string {
  let out = '12D3KooW'
  let rest = n
  for (let i = 0; i < 8; i++) {
    out += BASE58[rest % 58]
    rest = Math.floor(rest / 58)
  }
  let x = n + 1
  for (let i = 0; i < 36; i++) {
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9 | 0
    out += BASE58[(x >>> 8) % 58]
  }
  return out
}

/** `count` distinct compressed secp256k1 public keys: P, P+G, P+2G, … (one point addition each, no key generation). */
export function distinctPublicKeys (count: number): string[] {
  const keys: string[] = []
  let point = secp256k1.Point.BASE.multiply(BigInt('0x' + bytesToHex(secp256k1.utils.randomSecretKey())))
  for (let i = 0; i < count; i++) {
    point = point.add(secp256k1.Point.BASE)
    keys.push(bytesToHex(point.toBytes(true)))
  }
  return keys
}

/** Member `i` of a realistic roster: mostly full nodes, some validators, relayers and light clients, most with addresses. */
function fixtureMember (i: number, key: string): Member {
  const id = `member-${String(i).padStart(6, '0')}`
  const kind = i % 20
  const roles = kind < 2 ? ['validator'] : kind < 3 ? ['validator', 'full-node'] : kind < 4 ? ['relayer'] : kind < 15 ? ['full-node'] : ['light-client']
  const addrs: string[] = []
  if (!roles.includes('light-client')) {
    addrs.push(`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/4001/p2p/${fakePeerId(i)}`)
    if (kind < 3) addrs.push(`/dns4/${id}.example.net/tcp/4001/p2p/${fakePeerId(i)}`)
  }
  return { id, org: `org-${i % 997}`, roles, key, ...(addrs.length > 0 ? { addrs } : {}), ...(kind === 0 ? { maxConnections: 16 } : {}) }
}

/**
 * A roster of `keys.length` members (one per key) with about 1 % revocations and the full policy,
 * signed by a threshold of `fed`'s admins. Built in one step, not member by member: a 100,000-member
 * roster takes seconds this way.
 */
export function largeRoster (fed: FederationBuilder, keys: readonly string[]): Roster {
  const count = keys.length
  const revoked: Revocation[] = []
  for (let i = 0; i < Math.max(3, Math.floor(count / 100)); i++) {
    if (i % 3 === 0) revoked.push({ member: `member-old-${i}` })
    else if (i % 3 === 1) revoked.push({ peer: fakePeerId(count + i) })
    else revoked.push({ credential: bytesToHex(secp256k1.utils.randomSecretKey()) })
  }
  const draft = Roster.fromJSON({
    federation: BENCH_FEDERATION,
    epoch: 1,
    issuedAt: '2026-11-29T00:00:00Z',
    roles: ['validator', 'relayer', 'full-node', 'light-client'],
    admins: { threshold: fed.threshold, keys: fed.admins.map(a => a.publicKey) },
    members: keys.map((key, i) => fixtureMember(i, key)),
    revoked,
    policy: {
      protocols: {
        '/chain/consensus/1.0.0': ['validator'],
        '/chain/bridge/1.0.0': ['validator', 'relayer'],
        '/chain/headers/1.0.0': ['validator', 'full-node', 'light-client']
      },
      accepts: {
        'validator': ['validator', 'relayer', 'full-node'],
        'full-node': ['validator', 'full-node', 'relayer', 'light-client']
      },
      credentialMaxTtl: '7d',
      clockSkew: '60s'
    },
    signatures: []
  })
  return fed.sign(draft)
}
