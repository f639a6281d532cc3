import { createFederationBuilder, FederationKeys, seededSecret } from '../../node/builder/index.ts'
import {
  Credential, CREDENTIAL_VERSION, revoke, signingMessage, signMessage, signRoster, isoTime,
  type NodeKey, type Roster, type SigningKey, type SigningKeyKind
} from '../../node/index.ts'

/** A fixed point in time every test measures from. */
export const T0 = Date.parse('2026-11-29T00:00:00Z')
export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS
export const FEDERATION = 'test-fed'

/** Every key in these tests derives from this text: fixed keys make failures reproducible. */
const SEED = 'fedgate test'
const KEYS = new FederationKeys({ seed: SEED })

/** 32 deterministic bytes for a label. */
export function seed (label: string): Uint8Array {
  return seededSecret(SEED, label)
}

export function signingKey (kind: SigningKeyKind, label: string): SigningKey {
  return KEYS.signingKey(kind, label)
}

export async function nodeKey (label: string): Promise<NodeKey> {
  return await KEYS.nodeKey(label)
}

export const CONSENSUS = '/chain/consensus/1.0.0'
export const HEADERS = '/chain/headers/1.0.0'

/** Three members, two protocols, 2-of-3 admins, all issued at T0. */
const FIXTURE = createFederationBuilder({
  federation: FEDERATION,
  keys: KEYS,
  admins: 3,
  threshold: 2,
  now: T0,
  members: [
    { id: 'val-a', org: 'acme', roles: ['validator'], addrs: ['/ip4/10.0.0.1/tcp/4001'], maxConnections: 4 },
    { id: 'rel-b', org: 'bridgeco', roles: ['relayer'] },
    { id: 'full-c', roles: ['full-node', 'light-client'] }
  ],
  protocols: { [CONSENSUS]: ['validator'], [HEADERS]: ['validator', 'full-node', 'light-client'] }
})

/** The fixture's admins (FederationKeys hands out the same key for the same name). */
export const ADMINS = [signingKey('admin', '1'), signingKey('admin', '2'), signingKey('admin', '3')] as const
export const NEW_ADMINS = [signingKey('admin', '4'), signingKey('admin', '5'), signingKey('admin', '6')] as const

export const MEMBER_KEYS = {
  'val-a': signingKey('member', 'val-a'),
  'rel-b': signingKey('member', 'rel-b'),
  'full-c': signingKey('member', 'full-c')
} as const

/** Signs `roster` with each key in turn. */
export function signedBy (roster: Roster, keys: readonly SigningKey[]): Roster {
  return keys.reduce((r, k) => signRoster(r, k), roster)
}

/** An unsigned genesis draft: three members, two protocols, 2-of-3 admins. */
export function genesisDraft (): Roster {
  return FIXTURE.genesisDraft
}

/** The genesis draft signed by a threshold (2 of 3) of its admins. */
export function genesis (): Roster {
  return FIXTURE.roster
}

/** A roster whose revocation list names an extra peer: handy for a second signed epoch. */
export function nextEpoch (roster: Roster, peer: string, signers: readonly SigningKey[] = ADMINS.slice(0, 2)): Roster {
  return signedBy(revoke(roster, { peer }, roster.issuedAtMs + HOUR_MS), signers)
}

export interface CredentialFields {
  version: number
  federation: string
  memberId: string
  peer: string
  roles: string[]
  notBefore: string
  notAfter: string
  serial: string
}

/** Signs arbitrary credential fields with any key, bypassing issueCredential's checks. */
export function mintCredential (fields: CredentialFields, key: SigningKey): Credential {
  const signature = signMessage(signingMessage('credential', fields), key.secretKey)
  return Credential.fromJSON({ ...fields, signature })
}

export function credentialFields (peer: string, overrides: Partial<CredentialFields> = {}): CredentialFields {
  return {
    version: CREDENTIAL_VERSION,
    federation: FEDERATION,
    memberId: 'val-a',
    peer,
    roles: ['validator'],
    notBefore: isoTime(T0),
    notAfter: isoTime(T0 + DAY_MS),
    serial: 'serial-1',
    ...overrides
  }
}

/** Deep copy of a JSON value, for tampering with documents. */
export function clone<T> (value: T): T {
  return structuredClone(value)
}

/** The error a function throws, failing the test when it returns. */
export function thrown (fn: () => unknown, what = 'call'): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error(`${what}: expected an exception, none was thrown`)
}
