import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSigningKey } from '../../membership/index.ts'
import { readKeyFile } from '../../node/files/key-file.ts'
import { decryptSigningKey, encryptSigningKey, KeystoreError } from '../../node/files/keystore.ts'
import type { KeygenResult } from '../../node/cli/index.ts'
import { assertFails, assertOk, fedgate, fedgateWithEnv, json, REPO } from './run.ts'

/** The cheapest cost a keystore may carry, so the tests do not spend seconds in scrypt. */
const COST = '14'
const PASSPHRASE = 'correct horse battery'

describe('encrypted key files (scrypt + AES-256-GCM keystore)', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  let passFile: string
  let admin: KeygenResult

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-keystore-'))
    passFile = file('pass.txt')
    await writeFile(passFile, PASSPHRASE + '\n', { mode: 0o600 })
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keygen --encrypt writes a keystore (mode 0600) that holds no clear secret, and whose public key is usable without the passphrase', async () => {
    const run = await fedgate('keygen', 'admin', '--encrypt', '--passphrase-file', passFile, '--kdf-cost', COST, '--out', file('admin.key'), '--json')
    assertOk(run)
    admin = json<KeygenResult>(run)
    assert.equal(admin.encrypted, true)
    assert.equal((await stat(file('admin.key'))).mode & 0o777, 0o600)
    const text = await readFile(file('admin.key'), 'utf8')
    const doc = JSON.parse(text) as Record<string, unknown>
    assert.equal(doc.format, 'fedgate/keystore/v1')
    assert.equal(doc.publicKey, admin.publicKey)
    assert.doesNotMatch(text, /privateKey/)
    const secret = (await readKeyFile(file('admin.key'), 'admin', { passphrase: async () => PASSPHRASE })).secretKey
    assert.ok(!text.includes(Buffer.from(secret).toString('hex')))
    assertOk(await fedgate('roster', 'init', '--federation', 'ks-fed', '--admin', file('admin.key'), '--threshold', '1', '--out', file('roster.json')))
    const roster = JSON.parse(await readFile(file('roster.json'), 'utf8')) as { admins: { keys: string[] } }
    assert.deepEqual(roster.admins.keys, [admin.publicKey])
  })

  it('roster sign opens an encrypted admin key with --passphrase-file or FEDGATE_PASSPHRASE', async () => {
    assertOk(await fedgate('roster', 'sign', file('roster.json'), '--key', file('admin.key'), '--passphrase-file', passFile))
    assertOk(await fedgate('roster', 'verify', file('roster.json')))
    assertOk(await fedgate('keygen', 'member', '--out', file('member.key')))
    assertOk(await fedgate('roster', 'add-member', file('roster.json'), '--id', 'm1', '--roles', 'validator', '--key', file('member.key')))
    assertOk(await fedgateWithEnv({ FEDGATE_PASSPHRASE: PASSPHRASE }, 'roster', 'sign', file('roster.json'), '--key', file('admin.key')))
    assertOk(await fedgate('roster', 'verify', file('roster.json')))
  })

  it('a wrong passphrase is named as such, and nothing is signed', async () => {
    const before = await readFile(file('roster.json'), 'utf8')
    assertOk(await fedgate('roster', 'allow', file('roster.json'), '--protocol', '/chain/x/1.0.0', '--roles', 'validator'))
    const edited = await readFile(file('roster.json'), 'utf8')
    const line = assertFails(await fedgateWithEnv({ FEDGATE_PASSPHRASE: 'not the passphrase' }, 'roster', 'sign', file('roster.json'), '--key', file('admin.key')), 1)
    assert.ok(line.includes(file('admin.key')), line)
    assert.match(line, /wrong passphrase/)
    assert.equal(await readFile(file('roster.json'), 'utf8'), edited)
    assert.notEqual(before, edited)
  })

  it('without a passphrase source and without a terminal, the command says where a passphrase can come from', async () => {
    const line = assertFails(await fedgate('roster', 'sign', file('roster.json'), '--key', file('admin.key')), 2)
    assert.match(line, /is encrypted/)
    assert.match(line, /--passphrase-file/)
    assert.match(line, /FEDGATE_PASSPHRASE/)
  })

  it('a tampered or truncated keystore is refused as damaged, never opened', async () => {
    const original = JSON.parse(await readFile(file('admin.key'), 'utf8')) as { publicKey: string, crypto: { cipher: { message: string } } }
    const variants: Record<string, string> = {}
    const flipped = structuredClone(original)
    const m = flipped.crypto.cipher.message
    flipped.crypto.cipher.message = m.slice(0, 10) + (m[10] === '0' ? '1' : '0') + m.slice(11)
    variants['flipped ciphertext'] = JSON.stringify(flipped)
    const cut = structuredClone(original)
    cut.crypto.cipher.message = m.slice(0, m.length - 8)
    variants['truncated ciphertext'] = JSON.stringify(cut)
    const relabelled = structuredClone(original)
    relabelled.publicKey = generateSigningKey('admin').publicKey
    variants['clear publicKey replaced'] = JSON.stringify(relabelled)
    const text = JSON.stringify(original, null, 2)
    variants['truncated file'] = text.slice(0, text.length >> 1)
    for (const [name, content] of Object.entries(variants)) {
      await writeFile(file('bad.key'), content, { mode: 0o600 })
      const line = assertFails(await fedgate('roster', 'sign', file('roster.json'), '--key', file('bad.key'), '--passphrase-file', passFile), 1)
      assert.ok(line.includes(file('bad.key')), `${name}: ${line}`)
      assert.match(line, /damaged|truncated/, name)
      assert.doesNotMatch(line, /wrong passphrase/, name)
    }
  })

  it('key encrypt and key decrypt convert a member key in place; credential issue reads both forms', async () => {
    assertOk(await fedgate('keygen', 'node', '--out', file('node.key')))
    const issue = async (env: Record<string, string>, out: string): Promise<void> => {
      assertOk(await fedgateWithEnv(env, 'credential', 'issue', '--member-key', file('member.key'), '--member', 'm1', '--node-key', file('node.key'),
        '--roster', file('roster.json'), '--out', file(out)))
    }
    const plain = await readKeyFile(file('member.key'), 'member')
    const enc = await fedgateWithEnv({ FEDGATE_PASSPHRASE: PASSPHRASE }, 'key', 'encrypt', file('member.key'), '--kdf-cost', COST, '--json')
    assertOk(enc)
    assert.deepEqual(json(enc), { file: file('member.key'), kind: 'member', publicKey: plain.publicKey, encrypted: true })
    assert.equal((await stat(file('member.key'))).mode & 0o777, 0o600)
    await issue({ FEDGATE_PASSPHRASE: PASSPHRASE }, 'c1.json')
    assertFails(await fedgateWithEnv({ FEDGATE_PASSPHRASE: PASSPHRASE }, 'key', 'encrypt', file('member.key'), '--kdf-cost', COST), 1)
    assertFails(await fedgateWithEnv({ FEDGATE_PASSPHRASE: 'wrong passphrase' }, 'key', 'decrypt', file('member.key')), 1)
    assertOk(await fedgate('key', 'decrypt', file('member.key'), '--passphrase-file', passFile))
    assert.deepEqual(await readKeyFile(file('member.key'), 'member'), plain)
    assert.equal((await stat(file('member.key'))).mode & 0o777, 0o600)
    await issue({}, 'c2.json')
    assertFails(await fedgate('key', 'decrypt', file('member.key'), '--passphrase-file', passFile), 1)
  })

  it('refuses what cannot be protected this way: node keys, short passphrases, open passphrase files', async () => {
    assert.match(assertFails(await fedgate('keygen', 'node', '--encrypt', '--passphrase-file', passFile, '--out', file('n2.key')), 2), /admin and member keys/)
    assert.match(assertFails(await fedgate('key', 'encrypt', file('node.key'), '--passphrase-file', passFile), 1), /node key/)
    assert.match(assertFails(await fedgateWithEnv({ FEDGATE_PASSPHRASE: 'short' }, 'keygen', 'member', '--encrypt', '--out', file('m2.key')), 2), /shorter than 8/)
    await chmod(passFile, 0o644)
    assert.match(assertFails(await fedgate('keygen', 'member', '--encrypt', '--passphrase-file', passFile, '--out', file('m3.key')), 1), /chmod 600/)
    await chmod(passFile, 0o600)
    assert.match(assertFails(await fedgate('keygen', 'member', '--passphrase-file', passFile, '--out', file('m4.key')), 2), /with --encrypt only/)
    for (const f of ['n2.key', 'm2.key', 'm3.key', 'm4.key']) await assert.rejects(stat(file(f)), { code: 'ENOENT' })
  })

  it('on a terminal, asks for the passphrase without echoing it, twice for a new key', async () => {
    const out = file('tty.key')
    const session = await onTerminal(`keygen member --encrypt --kdf-cost ${COST} --out ${out} --json`, [
      [/new passphrase for/, 'typed on a tty\r'],
      [/repeat the passphrase/, 'typed on a tty\r']
    ])
    assert.equal(session.code, 0, session.output)
    assert.ok(!session.output.includes('typed on a tty'), `the passphrase was echoed: ${session.output}`)
    const key = await readKeyFile(out, 'member', { passphrase: async () => 'typed on a tty' })
    assert.equal(key.kind, 'member')
    const mismatch = await onTerminal(`keygen member --encrypt --kdf-cost ${COST} --out ${file('tty2.key')}`, [
      [/new passphrase for/, 'first passphrase\r'],
      [/repeat the passphrase/, 'second passphrase\r']
    ])
    assert.equal(mismatch.code, 1)
    assert.match(mismatch.output, /the two passphrases differ/)
    await assert.rejects(stat(file('tty2.key')), { code: 'ENOENT' })
  })
})

describe('keystore format', () => {
  it('opens with the passphrase it was sealed under, tells a wrong passphrase from a damaged file', () => {
    const key = generateSigningKey('member')
    const sealed = encryptSigningKey(key, 'passphrase one', 14)
    assert.deepEqual(decryptSigningKey(JSON.parse(JSON.stringify(sealed)), 'passphrase one'), key)
    assert.throws(() => decryptSigningKey(sealed, 'passphrase two'), (err: unknown) => err instanceof KeystoreError && err.reason === 'wrong-passphrase')
    const kindChanged = { ...sealed, kind: 'admin' }
    assert.throws(() => decryptSigningKey(kindChanged, 'passphrase one'), (err: unknown) => err instanceof KeystoreError && err.reason === 'damaged')
    const costly = structuredClone(sealed) as { crypto: { kdf: { params: { n: number } } } }
    costly.crypto.kdf.params.n = 2 ** 24
    assert.throws(() => decryptSigningKey(costly, 'passphrase one'), { name: 'MalformedError' })
    assert.throws(() => encryptSigningKey(key, 'passphrase one', 8), { name: 'MalformedError' })
  })

  it('two encryptions of one key under one passphrase share no salt, iv or ciphertext', () => {
    const key = generateSigningKey('admin')
    const a = encryptSigningKey(key, 'same passphrase', 14)
    const b = encryptSigningKey(key, 'same passphrase', 14)
    assert.notEqual(a.crypto.kdf.params.salt, b.crypto.kdf.params.salt)
    assert.notEqual(a.crypto.cipher.params.iv, b.crypto.cipher.params.iv)
    assert.notEqual(a.crypto.cipher.message, b.crypto.cipher.message)
  })

  it('an encrypted key file is refused where no passphrase can be given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedgate-keystore-lib-'))
    try {
      const f = join(dir, 'admin.key')
      await writeFile(f, JSON.stringify(encryptSigningKey(generateSigningKey('admin'), 'a passphrase', 14)), { mode: 0o600 })
      await assert.rejects(readKeyFile(f, 'admin'), { name: 'KeyFileError' })
      await assert.rejects(readKeyFile(f, 'member', { passphrase: async () => 'a passphrase' }), /expected a member key, found an admin key/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

/**
 * Runs `fedgate ARGS` on a pseudo-terminal (util-linux `script`), typing each answer once its
 * prompt has appeared. Resolves with the exit code and everything the terminal showed.
 */
async function onTerminal (args: string, answers: ReadonlyArray<readonly [RegExp, string]>): Promise<{ code: number | null, output: string }> {
  const command = `'${process.execPath}' scripts/fedgate.ts ${args}`
  const { FEDGATE_PASSPHRASE: _unset, ...env } = process.env
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env })
  let output = ''
  let next = 0
  let answered = 0
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    const answer = answers[next]
    if (answer !== undefined && answer[0].test(output.slice(answered))) {
      next++
      answered = output.length
      child.stdin.write(answer[1])
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  return await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => { resolve({ code, output }) })
  })
}
