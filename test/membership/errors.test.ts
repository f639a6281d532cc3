import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  acceptRoster, Credential, KeyFileError, MalformedError, MAX_CREDENTIAL_BYTES, MAX_ROSTER_BYTES,
  parseDuration, revoke, Roster, RosterRefusedError, setPolicy, toHighS, verifyCredential, verifyNative, verifyNoble,
  type SignatureVerifier
} from '../../membership/index.ts'
import { decodeKeyFile, encodeKeyFile } from '../../node/index.ts'
import {
  ADMINS, clone, credentialFields, CONSENSUS, genesis, MEMBER_KEYS, mintCredential, nodeKey, signedBy, T0, thrown
} from './fixtures.ts'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonPath = ReadonlyArray<string | number>

const VERIFIERS: ReadonlyArray<[string, SignatureVerifier]> = [['noble', verifyNoble], ['native', verifyNative]]

/** Formats a path the way the parsers name fields: `$.members[1].id`, `$.policy.accepts["validator"][0]`. */
function jsonPath (path: JsonPath): string {
  let out = '$'
  path.forEach((part, i) => {
    const bracketed = path[i - 2] === 'policy' && (path[i - 1] === 'accepts' || path[i - 1] === 'protocols')
    if (typeof part === 'number') out += `[${part}]`
    else if (bracketed || !/^[A-Za-z_$][\w$]*$/.test(part)) out += `[${JSON.stringify(part)}]`
    else out += `.${part}`
  })
  return out
}

function container (doc: Json, path: JsonPath): { parent: Json[] | { [key: string]: Json }, key: string | number } {
  let node: Json = doc
  for (const part of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') throw new Error(`no container at ${jsonPath(path)}`)
    const next: Json | undefined = Array.isArray(node) ? node[Number(part)] : node[String(part)]
    if (next === undefined) throw new Error(`no container at ${jsonPath(path)}`)
    node = next
  }
  const key = path[path.length - 1]
  if (node === null || typeof node !== 'object' || key === undefined) throw new Error(`no container at ${jsonPath(path)}`)
  return { parent: node, key }
}

function setAt (doc: Json, path: JsonPath, value: Json): Json {
  const copy = clone(doc)
  const { parent, key } = container(copy, path)
  if (Array.isArray(parent)) parent[Number(key)] = value
  else parent[String(key)] = value
  return copy
}

function deleteAt (doc: Json, path: JsonPath): Json {
  const copy = clone(doc)
  const { parent, key } = container(copy, path)
  if (Array.isArray(parent)) parent.splice(Number(key), 1)
  else delete parent[String(key)]
  return copy
}

/** Every field path in a JSON document with its value, depth first. */
function walk (doc: Json, prefix: JsonPath = []): Array<[JsonPath, Json]> {
  const out: Array<[JsonPath, Json]> = []
  if (doc === null || typeof doc !== 'object') return out
  const entries: Array<[string | number, Json]> = Array.isArray(doc) ? doc.map((v, i) => [i, v]) : Object.entries(doc)
  for (const [key, value] of entries) {
    const path = [...prefix, key]
    out.push([path, value], ...walk(value, path))
  }
  return out
}

/** Values of another JSON type than `value`. */
function wrongTypes (value: Json): Json[] {
  if (typeof value === 'string') return [null, 42, true, [], {}]
  if (typeof value === 'number') return [null, String(value), true, [], {}, 1.5]
  if (Array.isArray(value)) return [null, 42, 'x', {}]
  if (value !== null && typeof value === 'object') return [null, 42, 'x', []]
  return []
}

function hexOf (length: number, char = 'a'): string {
  return char.repeat(length)
}

function assertMalformed (fn: () => unknown, path: string, what: string): void {
  const err = thrown(fn, what)
  assert.ok(err instanceof MalformedError, `${what}: expected MalformedError, got ${String(err)}`)
  assert.equal(err.name, 'MalformedError', what)
  assert.equal(err.code, 'malformed', what)
  assert.equal(err.path, path, `${what}: ${err.message}`)
}

function assertKeyFileError (fn: () => unknown, what: string): void {
  const err = thrown(fn, what)
  assert.ok(err instanceof KeyFileError, `${what}: expected KeyFileError, got ${String(err)}`)
  assert.equal(err.name, 'KeyFileError', what)
  assert.equal(err.file, 'key.json', what)
}

interface DocCase {
  readonly name: string
  readonly doc: Json
  readonly path: string
}

describe('malformed input is refused with MalformedError naming the field', () => {
  let rosterDoc: Json
  let rosterText: string
  let credentialDoc: Json
  let credentialText: string
  let peer: string

  before(async () => {
    peer = (await nodeKey('errors')).peerId
    const other = (await nodeKey('errors-other')).peerId
    let roster = genesis()
    roster = revoke(roster, { member: 'gone' }, T0)
    roster = revoke(roster, { peer: other }, T0)
    roster = revoke(roster, { credential: hexOf(64, 'c') }, T0)
    roster = setPolicy(roster, 'limits', { maxConnectionsPerMember: 4, maxInboundConnections: 100, handshakeTimeout: '5s' }, T0)
    roster = signedBy(roster, ADMINS.slice(0, 2))
    rosterText = roster.encode()
    rosterDoc = JSON.parse(rosterText) as Json
    const credential = mintCredential(credentialFields(peer), MEMBER_KEYS['val-a'])
    credentialText = credential.encode()
    credentialDoc = JSON.parse(credentialText) as Json
  })

  function rosterCases (): DocCase[] {
    const cases: DocCase[] = []
    for (const [path, value] of walk(rosterDoc)) {
      for (const wrong of wrongTypes(value)) {
        cases.push({ name: `wrong type ${JSON.stringify(wrong)} at ${jsonPath(path)}`, doc: setAt(rosterDoc, path, wrong), path: jsonPath(path) })
      }
    }
    const required: JsonPath[] = [
      ['federation'], ['epoch'], ['issuedAt'], ['roles'], ['admins'], ['members'], ['revoked'], ['policy'], ['signatures'],
      ['admins', 'threshold'], ['admins', 'keys'],
      ['members', 1, 'id'], ['members', 1, 'roles'], ['members', 1, 'key'],
      ['signatures', 1, 'key'], ['signatures', 1, 'sig']
    ]
    for (const path of required) cases.push({ name: `missing ${jsonPath(path)}`, doc: deleteAt(rosterDoc, path), path: jsonPath(path) })
    const objects: JsonPath[] = [[], ['admins'], ['members', 1], ['signatures', 0], ['policy'], ['policy', 'limits']]
    for (const path of objects) {
      const extra = [...path, 'extra']
      cases.push({ name: `unknown field ${jsonPath(extra)}`, doc: setAt(rosterDoc, extra, 1), path: jsonPath(extra) })
    }
    const key = (member: number): JsonPath => ['members', member, 'key']
    const memberKey = MEMBER_KEYS['val-a'].publicKey
    const sig = (i: number): JsonPath => ['signatures', i, 'sig']
    const table: Array<[string, JsonPath, Json, JsonPath?]> = [
      ['duplicate member id', ['members', 1, 'id'], 'val-a'],
      ['duplicate member key', key(1), memberKey],
      ['duplicate declared role', ['roles', 1], 'validator'],
      ['duplicate member role', ['members', 2, 'roles', 1], 'full-node'],
      ['duplicate admin key', ['admins', 'keys', 1], ADMINS[0].publicKey],
      ['duplicate signature key', ['signatures', 1, 'key'], ADMINS[0].publicKey],
      ['duplicate revocation', ['revoked', 1], { member: 'gone' }],
      ['duplicate addr', ['members', 0, 'addrs', 1], '/ip4/10.0.0.1/tcp/4001'],
      ['unknown member role', ['members', 0, 'roles', 0], 'wizard'],
      ['undeclared role used by a member', ['roles'], ['validator', 'full-node', 'light-client'], ['members', 1, 'roles', 0]],
      ['unknown role in policy.protocols', ['policy', 'protocols', CONSENSUS, 0], 'wizard'],
      ['unknown local role in policy.accepts', ['policy', 'accepts', 'wizard'], ['validator']],
      ['unknown peer role in policy.accepts', ['policy', 'accepts', 'validator', 0], 'wizard'],
      ['invalid protocol id', ['policy', 'protocols', 'chain-consensus'], ['validator']],
      ['member key of 65 hex characters', key(0), memberKey.slice(0, 65)],
      ['member key of 67 hex characters', key(0), memberKey + 'a'],
      ['uppercase member key', key(0), memberKey.toUpperCase()],
      ['uncompressed-prefix member key', key(0), '04' + memberKey.slice(2)],
      ['admin key of 65 hex characters', ['admins', 'keys', 0], hexOf(65)],
      ['admin key of 67 hex characters', ['admins', 'keys', 2], '02' + hexOf(65)],
      ['uppercase admin key', ['admins', 'keys', 1], ADMINS[1].publicKey.toUpperCase()],
      ['signature key of 67 hex characters', ['signatures', 0, 'key'], '03' + hexOf(65)],
      ['signature of 126 hex characters', sig(0), hexOf(126)],
      ['signature of 130 hex characters', sig(1), hexOf(130)],
      ['uppercase signature', sig(0), hexOf(128, 'A')],
      ['non-hex signature', sig(0), hexOf(128, 'g')],
      ['epoch 0', ['epoch'], 0],
      ['negative epoch', ['epoch'], -1],
      ['epoch beyond safe integers', ['epoch'], 2 ** 53],
      ['threshold 0', ['admins', 'threshold'], 0],
      ['threshold above the admin count', ['admins', 'threshold'], 4],
      ['no admin keys', ['admins', 'keys'], []],
      ['no declared roles', ['roles'], []],
      ['member without roles', ['members', 1, 'roles'], []],
      ['role with uppercase letters', ['roles', 0], 'Validator'],
      ['federation with a space', ['federation'], 'my fed'],
      ['member id with a slash', ['members', 2, 'id'], 'a/b'],
      ['issuedAt not ISO-8601', ['issuedAt'], 'yesterday'],
      ['issuedAt with a time zone offset', ['issuedAt'], '2026-11-29T00:00:00+01:00'],
      ['issuedAt on a day that does not exist', ['issuedAt'], '2026-02-30T00:00:00Z'],
      ['maxConnections 0', ['members', 0, 'maxConnections'], 0],
      ['maxConnections above the cap', ['members', 0, 'maxConnections'], 65_537],
      ['addr that is not a multiaddr', ['members', 0, 'addrs', 0], '10.0.0.1:4001'],
      ['revocation with two kinds', ['revoked', 0], { member: 'gone', peer: 'x' }],
      ['revocation of an unknown kind', ['revoked', 0], { org: 'acme' }],
      ['empty revocation', ['revoked', 0], {}],
      ['revoked credential fingerprint of 63 characters', ['revoked', 2, 'credential'], hexOf(63)],
      ['revoked peer that is not a PeerId', ['revoked', 1, 'peer'], 'not-a-peer-id'],
      ['credentialMaxTtl without unit', ['policy', 'credentialMaxTtl'], '7'],
      ['credentialMaxTtl of zero', ['policy', 'credentialMaxTtl'], '0s'],
      ['clockSkew negative', ['policy', 'clockSkew'], '-60s'],
      ['limit of zero', ['policy', 'limits', 'maxInboundConnections'], 0],
      ['handshakeTimeout without unit', ['policy', 'limits', 'handshakeTimeout'], '10']
    ]
    for (const [name, path, value, errorPath] of table) {
      cases.push({ name, doc: setAt(rosterDoc, path, value), path: jsonPath(errorPath ?? path) })
    }
    cases.push({ name: 'root is an array', doc: [], path: '$' }, { name: 'root is null', doc: null, path: '$' }, { name: 'root is a string', doc: 'roster', path: '$' })
    return cases
  }

  it('Roster.fromJSON and Roster.parse: wrong types, missing and unknown fields, duplicates, unknown roles, bad keys', () => {
    const cases = rosterCases()
    assert.ok(cases.length > 150, `only ${cases.length} cases`)
    for (const { name, doc, path } of cases) {
      assertMalformed(() => Roster.fromJSON(doc), path, `fromJSON: ${name}`)
      assertMalformed(() => Roster.parse(JSON.stringify(doc)), path, `parse: ${name}`)
    }
  })

  it('the base documents are valid, so each case fails only for its own change', () => {
    assert.equal(Roster.fromJSON(rosterDoc).encode(), rosterText)
    assert.equal(Credential.fromJSON(credentialDoc).encode(), credentialText)
  })

  it('Roster.parse: empty, truncated at many points, not JSON, oversized', () => {
    const body = rosterText.trimEnd()
    const cuts = [0, 1, 2, 10, 100, Math.floor(body.length / 3), Math.floor(body.length / 2), body.length - 2, body.length - 1]
    for (const cut of cuts) {
      assertMalformed(() => Roster.parse(body.slice(0, cut)), '$', `cut at ${cut}`)
    }
    for (const text of ['', ' ', '{', '{{}}', 'null', '[]', '42', '"roster"', rosterText + '}']) {
      assertMalformed(() => Roster.parse(text), '$', `text ${JSON.stringify(text.slice(0, 20))}`)
    }
    assertMalformed(() => Roster.parse(' '.repeat(MAX_ROSTER_BYTES + 1)), '$', 'oversized roster')
  })

  function credentialCases (): DocCase[] {
    const cases: DocCase[] = []
    for (const [path, value] of walk(credentialDoc)) {
      for (const wrong of wrongTypes(value)) {
        cases.push({ name: `wrong type ${JSON.stringify(wrong)} at ${jsonPath(path)}`, doc: setAt(credentialDoc, path, wrong), path: jsonPath(path) })
      }
    }
    for (const field of ['version', 'federation', 'memberId', 'peer', 'roles', 'notBefore', 'notAfter', 'serial', 'signature']) {
      cases.push({ name: `missing ${field}`, doc: deleteAt(credentialDoc, [field]), path: `$.${field}` })
    }
    const table: Array<[string, string, Json, string?]> = [
      ['unknown field', 'extra', 1],
      ['another PeerId format', 'peer', 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'],
      ['a PeerId-looking string that does not decode', 'peer', '12D3KooW' + '1'.repeat(44)],
      ['no roles', 'roles', []],
      ['duplicate roles', 'roles', ['validator', 'validator'], '$.roles[1]'],
      ['notBefore not ISO-8601', 'notBefore', '29/11/2026'],
      ['notBefore on a day that does not exist', 'notBefore', '2026-02-30T00:00:00Z'],
      ['notAfter equal to notBefore', 'notAfter', '2026-11-29T00:00:00Z'],
      ['notAfter before notBefore', 'notAfter', '2026-11-28T00:00:00Z'],
      ['serial with a space', 'serial', 'serial 1'],
      ['serial too long', 'serial', 's'.repeat(65)],
      ['signature of 127 hex characters', 'signature', hexOf(127)],
      ['signature of 129 hex characters', 'signature', hexOf(129)],
      ['uppercase signature', 'signature', hexOf(128, 'F')],
      ['federation with a space', 'federation', 'my fed'],
      ['empty member id', 'memberId', '']
    ]
    for (const [name, field, value, path] of table) {
      cases.push({ name, doc: setAt(credentialDoc, [field], value), path: path ?? `$.${field}` })
    }
    cases.push({ name: 'root is an array', doc: [], path: '$' }, { name: 'root is a number', doc: 7, path: '$' })
    return cases
  }

  it('Credential.decode: wrong types, missing and unknown fields, bad values', () => {
    const cases = credentialCases()
    assert.ok(cases.length > 50, `only ${cases.length} cases`)
    for (const { name, doc, path } of cases) {
      assertMalformed(() => Credential.fromJSON(doc), path, `fromJSON: ${name}`)
      assertMalformed(() => Credential.decode(JSON.stringify(doc)), path, `decode text: ${name}`)
      assertMalformed(() => Credential.decode(Buffer.from(JSON.stringify(doc))), path, `decode bytes: ${name}`)
    }
  })

  it('Credential.decode: empty, truncated at many points, not JSON, oversized, invalid UTF-8', () => {
    for (const cut of [0, 1, 5, 50, Math.floor(credentialText.length / 2), credentialText.length - 1]) {
      assertMalformed(() => Credential.decode(credentialText.slice(0, cut)), '$', `cut at ${cut}`)
      assertMalformed(() => Credential.decode(Buffer.from(credentialText.slice(0, cut))), '$', `bytes cut at ${cut}`)
    }
    for (const text of ['{', 'null', '[]', '"credential"']) {
      assertMalformed(() => Credential.decode(text), '$', `text ${text}`)
    }
    const oversized = credentialText + ' '.repeat(MAX_CREDENTIAL_BYTES)
    assertMalformed(() => Credential.decode(oversized), '$', 'oversized text')
    assertMalformed(() => Credential.decode(Buffer.from(oversized)), '$', 'oversized bytes')
    assertMalformed(() => Credential.decode(new Uint8Array(MAX_CREDENTIAL_BYTES + 1)), '$', 'oversized zero bytes')
    assertMalformed(() => Credential.decode(new Uint8Array([0xff, 0xfe, 0x7b])), '$', 'invalid UTF-8')
  })

  it('parseDuration: every malformed duration names the path it was given', () => {
    const bad: unknown[] = ['', '10', '10x', '1.5h', '-1s', ' 1s', '1s ', '1 s', '1S', '1234567890s', 'h', 42, null, undefined, [], {}, true]
    for (const value of bad) {
      assertMalformed(() => parseDuration(value, '$.policy.clockSkew'), '$.policy.clockSkew', `duration ${JSON.stringify(value)}`)
    }
    assert.equal(parseDuration('500ms', 'x'), 500)
    assert.equal(parseDuration('7d', 'x'), 7 * 86_400_000)
  })

  it('decodeKeyFile: every malformed key file throws KeyFileError naming the file', async () => {
    const admin = JSON.parse(encodeKeyFile(ADMINS[0])) as Json
    const node = JSON.parse(encodeKeyFile(await nodeKey('errors'))) as Json
    const otherPeer = (await nodeKey('errors-other')).peerId
    const texts: Array<[string, string]> = [
      ['empty', ''],
      ['not JSON', 'secret'],
      ['truncated', encodeKeyFile(ADMINS[0]).slice(0, 40)],
      ['array', '[]'],
      ['null', 'null']
    ]
    const docs: Array<[string, Json]> = [
      ['unknown kind', setAt(admin, ['kind'], 'root')],
      ['kind of wrong type', setAt(admin, ['kind'], 1)],
      ['missing kind', deleteAt(admin, ['kind'])],
      ['missing privateKey', deleteAt(admin, ['privateKey'])],
      ['missing publicKey', deleteAt(admin, ['publicKey'])],
      ['unknown field', setAt(admin, ['extra'], 1)],
      ['type ed25519 for an admin key', setAt(admin, ['type'], 'Ed25519')],
      ['uppercase private key', setAt(admin, ['privateKey'], Buffer.from(ADMINS[0].secretKey).toString('hex').toUpperCase())],
      ['private key of 63 hex characters', setAt(admin, ['privateKey'], hexOf(63))],
      ['private key of zeros', setAt(admin, ['privateKey'], hexOf(64, '0'))],
      ['private key of wrong type', setAt(admin, ['privateKey'], 7)],
      ['public key of another key', setAt(admin, ['publicKey'], ADMINS[1].publicKey)],
      ['public key of 65 hex characters', setAt(admin, ['publicKey'], (ADMINS[0].publicKey).slice(0, 65))],
      ['node key that is not protobuf', setAt(node, ['privateKey'], Buffer.from('not a key').toString('base64'))],
      ['node key of wrong type', setAt(node, ['privateKey'], 12)],
      ['node PeerId of another key', setAt(node, ['peerId'], otherPeer)],
      ['node type that is not the key type', setAt(node, ['type'], 'secp256k1')],
      ['node type of wrong type', setAt(node, ['type'], 1)],
      ['node unknown field', setAt(node, ['extra'], true)],
      ['node missing peerId', deleteAt(node, ['peerId'])]
    ]
    for (const [name, text] of [...texts, ...docs.map(([n, d]): [string, string] => [n, JSON.stringify(d)])]) {
      assertKeyFileError(() => decodeKeyFile(text, 'key.json'), name)
    }
  })

  describe('high-S signatures verify false, never throw', () => {
    for (const [name, verify] of VERIFIERS) {
      it(`roster: acceptRoster refuses with bad-signature (${name})`, () => {
        const roster = genesis()
        const doc = clone(roster.document)
        const first = doc.signatures[0]
        assert.ok(first !== undefined)
        const highS = toHighS(first.sig)
        assert.notEqual(highS, first.sig)
        const tampered = Roster.fromJSON({ ...doc, signatures: [{ key: first.key, sig: highS }, ...doc.signatures.slice(1)] })
        assert.equal(verify(roster.signingMessage, highS, first.key), false)
        const err = thrown(() => acceptRoster(null, tampered, verify))
        assert.ok(err instanceof RosterRefusedError)
        assert.equal(err.code, 'bad-signature')
      })

      it(`credential: verifyCredential returns bad-signature (${name})`, () => {
        const roster = genesis()
        const good = mintCredential(credentialFields(peer), MEMBER_KEYS['val-a'])
        const highS = Credential.fromJSON({ ...good.document, signature: toHighS(good.document.signature) })
        assert.equal(verifyCredential(good, peer, roster, T0 + 1000, verify), null)
        assert.equal(verifyCredential(highS, peer, roster, T0 + 1000, verify), 'bad-signature')
      })
    }

    it('the verifiers return false for garbage signatures and keys', () => {
      const message = new Uint8Array(32)
      const key = MEMBER_KEYS['val-a'].publicKey
      const sigs = ['', 'zz', hexOf(128, 'z'), hexOf(127), hexOf(130), hexOf(128, '0'), hexOf(128, 'f')]
      const keys = ['', '02' + hexOf(64, 'f'), '04' + hexOf(64), hexOf(66, 'z'), key.slice(0, 64)]
      const sig = hexOf(64, '1') + hexOf(64, '2')
      for (const [name, verify] of VERIFIERS) {
        for (const s of sigs) assert.equal(verify(message, s, key), false, `${name}: signature ${s}`)
        for (const k of keys) assert.equal(verify(message, sig, k), false, `${name}: key ${k}`)
      }
    })
  })

  it('arbitrary text never makes a parser throw anything but its own error type', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.nat({ max: 2000 }), (noise, at) => {
      const spliced = rosterText.slice(0, at) + noise + rosterText.slice(at)
      for (const text of [noise, spliced]) {
        try { Roster.parse(text) } catch (err) { assert.ok(err instanceof MalformedError, String(err)) }
        try { Credential.decode(text) } catch (err) { assert.ok(err instanceof MalformedError, String(err)) }
        try { decodeKeyFile(text, 'key.json') } catch (err) { assert.ok(err instanceof KeyFileError, String(err)) }
      }
    }), { numRuns: 200 })
  })
})
