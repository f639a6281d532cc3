import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairFromSeed, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import {
  acceptRoster, canonicalBytes, Credential, DOMAIN, nodeKeyFromPrivateKey, Roster, signingKeyFromSecret, signingMessage,
  signMessage, verifyCredential, verifyNative, verifyNoble, type SignatureVerifier
} from '../../node/index.ts'
import {
  buildVectors, vectorFiles, VECTORS_DIR, type CredentialVectors, type KeysVectors, type RosterVectors
} from '../vectors/generate.ts'

const VERIFIERS: ReadonlyArray<[string, SignatureVerifier]> = [['noble', verifyNoble], ['native', verifyNative]]

async function readVector<T> (name: string): Promise<T> {
  return JSON.parse(await readFile(join(VECTORS_DIR, name), 'utf8')) as T
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function bytes (hexString: string): Uint8Array {
  return new Uint8Array(Buffer.from(hexString, 'hex'))
}

/** The documented message formula, computed independently of membership/signing.ts. */
function expectedMessage (domain: string, canonical: string): string {
  return createHash('sha256').update(domain).update(new Uint8Array([0])).update(canonical, 'utf8').digest('hex')
}

/** RFC 8785 for JSON made only of ASCII strings, safe integers, arrays and objects: sorted keys, no spaces. */
function sortedJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${sortedJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

function withoutKey<T extends object, K extends keyof T> (value: T, key: K): Omit<T, K> {
  const { [key]: _dropped, ...rest } = value
  return rest
}

describe('test vectors', () => {
  let keys: KeysVectors
  let rosterVec: RosterVectors
  let credentialVec: CredentialVectors

  before(async () => {
    keys = await readVector<KeysVectors>('keys.json')
    rosterVec = await readVector<RosterVectors>('roster.json')
    credentialVec = await readVector<CredentialVectors>('credential.json')
  })

  it('the generator reproduces every vector file byte for byte', async () => {
    const files = vectorFiles(await buildVectors())
    assert.deepEqual(Object.keys(files).sort(), ['credential.json', 'keys.json', 'roster.json'])
    for (const [name, text] of Object.entries(files)) {
      assert.equal(text, await readFile(join(VECTORS_DIR, name), 'utf8'), `${name} differs from what the code produces now`)
    }
  })

  describe('keys', () => {
    it('each secp256k1 secret key yields the recorded compressed public key', () => {
      for (const [kind, vector] of [...keys.admins.map(a => ['admin', a] as const), ['member', keys.member] as const, ['member', keys.otherMember] as const]) {
        assert.equal(signingKeyFromSecret(kind, bytes(vector.secretKey)).publicKey, vector.publicKey)
      }
    })

    it('the Ed25519 seed yields the recorded public key and PeerId', async () => {
      const node = nodeKeyFromPrivateKey(await generateKeyPairFromSeed('Ed25519', bytes(keys.node.seed)))
      assert.equal(node.type, 'Ed25519')
      assert.equal(node.peerId, keys.node.peerId)
      assert.equal(hex(publicKeyToProtobuf(node.privateKey.publicKey)), keys.node.publicKey)
    })
  })

  describe('roster', () => {
    it('records the documented domain prefix', () => {
      assert.equal(rosterVec.domain, DOMAIN.roster)
      assert.equal(DOMAIN.roster, 'fedgate/roster/v1')
    })

    it('canonical bytes of the unsigned roster are reproduced exactly', () => {
      const unsigned = withoutKey(rosterVec.document, 'signatures')
      assert.equal(Buffer.from(canonicalBytes(unsigned)).toString('utf8'), rosterVec.canonical)
      assert.equal(sortedJson(unsigned), rosterVec.canonical)
    })

    it('signing message is SHA-256(domain || 0x00 || canonical)', () => {
      const roster = Roster.fromJSON(rosterVec.document)
      assert.equal(expectedMessage(DOMAIN.roster, rosterVec.canonical), rosterVec.signingMessage)
      assert.equal(hex(roster.signingMessage), rosterVec.signingMessage)
      assert.equal(hex(signingMessage('roster', withoutKey(rosterVec.document, 'signatures'))), rosterVec.signingMessage)
    })

    it('fingerprint is the SHA-256 of the canonical signed roster, from the document and from the stored text', () => {
      assert.equal(createHash('sha256').update(sortedJson(rosterVec.document)).digest('hex'), rosterVec.fingerprint)
      assert.equal(Roster.fromJSON(rosterVec.document).fingerprint, rosterVec.fingerprint)
      const parsed = Roster.parse(rosterVec.encoded)
      assert.equal(parsed.fingerprint, rosterVec.fingerprint)
      assert.equal(parsed.encode(), rosterVec.encoded)
    })

    for (const [name, verify] of VERIFIERS) {
      it(`recorded signatures verify with ${name}`, () => {
        assert.equal(rosterVec.signatures.length, 2)
        for (const { key, sig } of rosterVec.signatures) {
          assert.equal(verify(bytes(rosterVec.signingMessage), sig, key), true)
        }
        assert.doesNotThrow(() => acceptRoster(null, Roster.fromJSON(rosterVec.document), verify))
      })
    }

    it('RFC 6979 deterministic signing reproduces the recorded signature bytes', () => {
      for (const { key, sig } of rosterVec.signatures) {
        const admin = keys.admins.find(a => a.publicKey === key)
        assert.ok(admin !== undefined, `signature by unknown key ${key}`)
        assert.equal(signMessage(bytes(rosterVec.signingMessage), bytes(admin.secretKey)), sig)
      }
    })
  })

  describe('credential', () => {
    it('records the documented domain prefix', () => {
      assert.equal(credentialVec.domain, DOMAIN.credential)
      assert.equal(DOMAIN.credential, 'fedgate/credential/v1')
    })

    it('canonical bytes of the unsigned credential are reproduced exactly', () => {
      const unsigned = withoutKey(credentialVec.document, 'signature')
      assert.equal(Buffer.from(canonicalBytes(unsigned)).toString('utf8'), credentialVec.canonical)
      assert.equal(sortedJson(unsigned), credentialVec.canonical)
    })

    it('signing message and fingerprint are reproduced from the wire form', () => {
      const credential = Credential.decode(credentialVec.encoded)
      assert.equal(expectedMessage(DOMAIN.credential, credentialVec.canonical), credentialVec.signingMessage)
      assert.equal(hex(credential.signingMessage), credentialVec.signingMessage)
      assert.equal(credential.fingerprint, credentialVec.fingerprint)
      assert.equal(createHash('sha256').update(sortedJson(credentialVec.document)).digest('hex'), credentialVec.fingerprint)
      assert.equal(credential.encode(), credentialVec.encoded)
      assert.equal(credential.peer, keys.node.peerId)
    })

    for (const [name, verify] of VERIFIERS) {
      it(`recorded signature verifies with ${name}, and the credential is valid under the roster vector`, () => {
        assert.equal(verify(bytes(credentialVec.signingMessage), credentialVec.signature, keys.member.publicKey), true)
        const credential = Credential.decode(credentialVec.encoded)
        const roster = Roster.fromJSON(rosterVec.document)
        assert.equal(verifyCredential(credential, keys.node.peerId, roster, credential.notBeforeMs + 3_600_000, verify), null)
      })
    }

    it('RFC 6979 deterministic signing reproduces the recorded signature bytes', () => {
      assert.equal(signMessage(bytes(credentialVec.signingMessage), bytes(keys.member.secretKey)), credentialVec.signature)
    })
  })

  describe('domain separation', () => {
    for (const [name, verify] of VERIFIERS) {
      it(`a roster signature does not verify as a credential message, nor the reverse (${name})`, () => {
        const rosterAsCredential = signingMessage('credential', withoutKey(rosterVec.document, 'signatures'))
        assert.notEqual(hex(rosterAsCredential), rosterVec.signingMessage)
        for (const { key, sig } of rosterVec.signatures) {
          assert.equal(verify(rosterAsCredential, sig, key), false)
        }
        const credentialAsRoster = signingMessage('roster', withoutKey(credentialVec.document, 'signature'))
        assert.notEqual(hex(credentialAsRoster), credentialVec.signingMessage)
        assert.equal(verify(credentialAsRoster, credentialVec.signature, keys.member.publicKey), false)
      })
    }
  })
})
