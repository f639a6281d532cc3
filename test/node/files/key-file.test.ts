import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  generateNodeKey, generateSigningKey, KEY_FILE_MODE, KeyFileError, readKeyFile, signMessage, verifyNoble, writeKeyFile,
  type KeyFile, type KeyKind
} from '../../../node/index.ts'

async function rejection (promise: Promise<unknown>): Promise<KeyFileError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof KeyFileError, `expected KeyFileError, got ${String(err)}`)
  assert.equal(err.name, 'KeyFileError')
  return err
}

describe('key files', () => {
  let dir: string
  let n = 0
  const file = (): string => join(dir, `key-${n++}.json`)

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-keys-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('writeKeyFile writes mode 0600', async () => {
    const f = file()
    await writeKeyFile(f, generateSigningKey('admin'))
    assert.equal(KEY_FILE_MODE, 0o600)
    assert.equal((await stat(f)).mode & 0o777, 0o600)
  })

  it('readKeyFile refuses a key file readable by group or others, naming chmod 600', async () => {
    for (const mode of [0o644, 0o640, 0o604]) {
      const f = file()
      await writeKeyFile(f, generateSigningKey('member'))
      await chmod(f, mode)
      const err = await rejection(readKeyFile(f))
      assert.equal(err.file, f)
      assert.match(err.message, /chmod 600/)
    }
  })

  it('readKeyFile refuses a key of another kind', async () => {
    const kinds: ReadonlyArray<[KeyKind, KeyFile]> = [
      ['admin', generateSigningKey('admin')],
      ['member', generateSigningKey('member')],
      ['node', await generateNodeKey()]
    ]
    for (const [kind, key] of kinds) {
      const f = file()
      await writeKeyFile(f, key)
      for (const [wanted] of kinds) {
        if (wanted === kind) continue
        await rejection(wanted === 'node' ? readKeyFile(f, 'node') : readKeyFile(f, wanted))
      }
    }
  })

  it('readKeyFile refuses a missing file and a file that is not a key', async () => {
    const missing = join(dir, 'missing.json')
    assert.equal((await rejection(readKeyFile(missing))).file, missing)
    const garbage = file()
    await writeFile(garbage, 'not a key\n', { mode: 0o600 })
    await rejection(readKeyFile(garbage))
  })

  it('round-trips admin and member keys (secret and public key preserved, still signs)', async () => {
    for (const kind of ['admin', 'member'] as const) {
      const key = generateSigningKey(kind)
      const f = file()
      await writeKeyFile(f, key)
      const read = await readKeyFile(f, kind)
      assert.equal(read.kind, kind)
      assert.equal(read.publicKey, key.publicKey)
      assert.deepEqual(Buffer.from(read.secretKey), Buffer.from(key.secretKey))
      const message = new Uint8Array(32).fill(7)
      assert.equal(verifyNoble(message, signMessage(message, read.secretKey), key.publicKey), true)
    }
  })

  it('round-trips Ed25519 and secp256k1 node keys with their PeerId', async () => {
    for (const type of ['Ed25519', 'secp256k1'] as const) {
      const key = await generateNodeKey(type)
      const f = file()
      await writeKeyFile(f, key)
      const read = await readKeyFile(f, 'node')
      assert.equal(read.type, type)
      assert.equal(read.peerId, key.peerId)
      assert.equal(read.privateKey.equals(key.privateKey), true)
      assert.match(read.peerId, type === 'Ed25519' ? /^12D3KooW/ : /^16Uiu2/)
    }
  })

  it('writeKeyFile refuses to overwrite an existing file unless told to', async () => {
    const f = file()
    const first = generateSigningKey('admin')
    await writeKeyFile(f, first)
    const before = await readFile(f, 'utf8')
    await rejection(writeKeyFile(f, generateSigningKey('admin')))
    assert.equal(await readFile(f, 'utf8'), before)
    const second = generateSigningKey('admin')
    await writeKeyFile(f, second, { overwrite: true })
    assert.equal((await readKeyFile(f, 'admin')).publicKey, second.publicKey)
    assert.equal((await stat(f)).mode & 0o777, 0o600)
  })
})
