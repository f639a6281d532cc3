import { readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKey } from '@libp2p/pnet'
import writeFileAtomic from 'write-file-atomic'
import { Credential, Roster, type SigningKeyKind } from '../../membership/index.ts'
import { writeCredentialFile } from '../files/credential-file.ts'
import { readPublicKey, writeKeyFile, type KeyFile } from '../files/key-file.ts'
import type { KeystoreDocument } from '../files/keystore.ts'
import { attributeTo, attributeToOptions, CliError, UsageError } from './io.ts'

const ROSTER_FILE_MODE = 0o644
const HEX_PUBLIC_KEY = /^0[23][0-9a-f]{64}$/i

/** Reads a file as text, turning filesystem errors into one line naming the file and the fix. */
async function readText (file: string, what: string, create: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new CliError(`${file}: no such ${what} file`, { fix: create })
    if (code === 'EISDIR') throw new CliError(`${file}: is a directory, expected a ${what} file`)
    throw new CliError(`${file}: cannot read ${what} file (${code ?? String(err)})`)
  }
}

export async function loadRoster (file: string): Promise<Roster> {
  const text = await readText(file, 'roster', 'create one with fedgate roster init, or check the path')
  try {
    return Roster.parse(text)
  } catch (err) {
    throw attributeTo(file, err)
  }
}

/** Replaces the roster file atomically (temp file, fsync, rename), keeping an existing file's mode. */
export async function saveRoster (file: string, roster: Roster, opts: { create?: boolean } = {}): Promise<void> {
  if (opts.create === true && await exists(file)) {
    throw new CliError(`${file}: already exists; refusing to replace a roster with a new genesis`, { fix: 'choose another --out, or move the file away first' })
  }
  await writeOrExplain(file, async () => writeFileAtomic(file, roster.encode(), opts.create === true ? { fsync: true, mode: ROSTER_FILE_MODE } : { fsync: true }))
}

/**
 * Loads the roster in `file`, applies `change` and writes the result back, or to `out` (so the
 * epoch in `file` stays on disk). Membership errors from the edit are reported against the file;
 * nothing is written when the edit fails.
 */
export async function editRoster (file: string, change: (roster: Roster) => Roster, out: string = file): Promise<Roster> {
  const before = await loadRoster(file)
  let after: Roster
  try {
    after = change(before)
  } catch (err) {
    // The roster was valid before the edit, so a format error comes from an option value.
    throw attributeToOptions(file, err)
  }
  await saveRoster(out, after)
  return after
}

export async function loadCredential (file: string): Promise<Credential> {
  const text = await readText(file, 'credential', 'issue one with fedgate credential issue, or check the path')
  try {
    return Credential.decode(text)
  } catch (err) {
    throw attributeTo(file, err)
  }
}

/** Writes a credential file atomically, readable by all (it holds no secret). */
export async function saveCredential (file: string, credential: Credential): Promise<void> {
  await writeOrExplain(file, async () => writeCredentialFile(file, credential))
}

/** Writes a new key file (mode 0600, never over an existing one). */
export async function saveKey (file: string, key: KeyFile | KeystoreDocument): Promise<void> {
  await writeOrExplain(file, async () => writeKeyFile(file, key))
}

/** Replaces a key file with another form of the same key (encrypted or plain), atomically, mode 0600. */
export async function replaceKey (file: string, key: KeyFile | KeystoreDocument): Promise<void> {
  await writeOrExplain(file, async () => writeKeyFile(file, key, { overwrite: true }))
}

/** Refuses a path that exists, before asking for anything (a passphrase) to write there. */
export async function refuseExisting (file: string): Promise<void> {
  if (await exists(file)) throw new CliError(`${file}: already exists; refusing to overwrite a key (move it away first)`)
}

/**
 * Runs `write` for `file`, turning a filesystem error into one line about the file's folder. The
 * atomic writes go through a temp file next to `file`, whose name the raw error would show instead.
 */
async function writeOrExplain (file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code !== 'string') throw err
    const folder = dirname(file)
    if (code === 'ENOENT') throw new CliError(`${file}: the folder ${folder} does not exist`, { fix: `create it first (mkdir -p ${folder}), or choose another path` })
    if (code === 'ENOTDIR') throw new CliError(`${file}: ${folder} is not a folder`, { fix: 'choose a path inside a folder' })
    if (code === 'EACCES' || code === 'EPERM') throw new CliError(`${file}: no permission to write in the folder ${folder}`, { fix: 'choose a folder you may write to' })
    if (code === 'EISDIR') throw new CliError(`${file}: is a folder`, { fix: 'give the path of a file inside it' })
    throw new CliError(`${file}: cannot write the file (${code})`)
  }
}

/**
 * A public key given on the command line either as hex or as the path of a key file of `kind`
 * (whose public key is then used).
 */
export async function publicKeyOf (value: string, kind: SigningKeyKind, option: string): Promise<string> {
  if (HEX_PUBLIC_KEY.test(value)) return value.toLowerCase()
  if (/^[0-9a-f]+$/i.test(value) && !(await exists(value))) {
    throw new UsageError(`${option} ${value}: not a compressed secp256k1 public key (66 hex characters starting with 02 or 03)`, `pass the publicKey printed by fedgate keygen ${kind}, or the key file`)
  }
  return await readPublicKey(value, kind)
}

async function exists (file: string): Promise<boolean> {
  return await stat(file).then(() => true, () => false)
}

/** Writes a new federation-wide pre-shared key (libp2p swarm key format, mode 0600, never over an existing file). */
export async function savePsk (file: string): Promise<void> {
  if (await exists(file)) throw new CliError(`${file}: already exists; refusing to overwrite a key (move it away first)`)
  const key = new Uint8Array(95)
  generateKey(key)
  await writeOrExplain(file, async () => writeFileAtomic(file, Buffer.from(key), { mode: 0o600, fsync: true }))
}
