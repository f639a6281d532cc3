import { readFile, stat } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { KeyFileError, obj, signingKeyDocument, signingKeyFromDocument, str, type SigningKey, type SigningKeyKind } from '../../membership/index.ts'
import { decryptSigningKey, isKeystore, keystoreHeader, KeystoreError, type KeystoreDocument } from './keystore.ts'
import { nodeKeyDocument, nodeKeyFromDocument, type NodeKey } from '../node-key.ts'

export type KeyKind = SigningKeyKind | 'node'
export type KeyFile = SigningKey | NodeKey

/** Key files hold secrets: readable by their owner only. */
export const KEY_FILE_MODE = 0o600

/** The JSON text stored in a key file: a plain key, or an encrypted one (a keystore document). */
export function encodeKeyFile (key: KeyFile | KeystoreDocument): string {
  const doc = 'crypto' in key ? key : key.kind === 'node' ? nodeKeyDocument(key) : signingKeyDocument(key)
  return JSON.stringify(doc, null, 2) + '\n'
}

/** Decodes a plain key file's text; errors name `file` and the fix. */
export function decodeKeyFile (text: string, file: string): KeyFile {
  return decodePlainKey(parseKeyJson(text, file), file)
}

function parseKeyJson (text: string, file: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new KeyFileError(file, 'not a fedgate key file (invalid JSON; it may be truncated); create one with fedgate keygen, or restore it from a backup')
  }
}

function decodePlainKey (json: unknown, file: string): KeyFile {
  try {
    const doc = obj(json, '$')
    const kind = str(doc.kind, '$.kind', { pattern: /^(admin|member|node)$/, hint: 'admin, member or node' })
    return kind === 'node' ? nodeKeyFromDocument(doc) : signingKeyFromDocument(doc)
  } catch (err) {
    throw new KeyFileError(file, `${err instanceof Error ? err.message : String(err)}; regenerate it with fedgate keygen`)
  }
}

/**
 * Gives the passphrase of the encrypted key file `file` (from a file, the environment or a prompt).
 * Called only when the key file is encrypted.
 */
export type PassphraseSource = (file: string) => Promise<string>

export interface ReadKeyOptions {
  /** Where the passphrase of an encrypted key file comes from; without it an encrypted file is refused. */
  readonly passphrase?: PassphraseSource
}

/** Opens an encrypted key file's JSON, mapping every failure to a KeyFileError naming the file and the fix. */
async function openKeystore (json: unknown, file: string, passphrase: PassphraseSource | undefined): Promise<SigningKey> {
  const { kind } = keystoreHeaderOf(json, file)
  if (passphrase === undefined) {
    throw new KeyFileError(file, `the ${kind} key file is encrypted and no passphrase can be asked for here; decrypt it with fedgate key decrypt ${file}, or load it where a passphrase is given`)
  }
  const secret = await passphrase(file)
  try {
    return decryptSigningKey(json, secret)
  } catch (err) {
    if (err instanceof KeystoreError && err.reason === 'wrong-passphrase') {
      throw new KeyFileError(file, 'wrong passphrase for this encrypted key file; check --passphrase-file or FEDGATE_PASSPHRASE')
    }
    if (err instanceof KeystoreError) throw new KeyFileError(file, `encrypted key file is damaged: ${err.message}; restore it from a backup`)
    throw err
  }
}

function keystoreHeaderOf (json: unknown, file: string): { kind: SigningKeyKind, publicKey: string } {
  try {
    return keystoreHeader(json)
  } catch (err) {
    throw new KeyFileError(file, `encrypted key file is damaged or truncated (${err instanceof Error ? err.message : String(err)}); restore it from a backup`)
  }
}

/** A key file's contents as read: a plain key, or an encrypted one (kind and public key only). */
export type KeyFileContents =
  | { readonly encrypted: false, readonly key: KeyFile }
  | { readonly encrypted: true, readonly kind: SigningKeyKind, readonly publicKey: string, readonly json: unknown }

/** Reads a key file (mode checked) without decrypting it. */
export async function readKeyFileContents (file: string): Promise<KeyFileContents> {
  const json = parseKeyJson(await readKeyText(file), file)
  if (!isKeystore(json)) return { encrypted: false, key: decodePlainKey(json, file) }
  return { encrypted: true, ...keystoreHeaderOf(json, file), json }
}

/** Opens encrypted key file contents with a passphrase. */
export async function openKeyFileContents (contents: KeyFileContents, file: string, passphrase: PassphraseSource | undefined): Promise<KeyFile> {
  return contents.encrypted ? await openKeystore(contents.json, file, passphrase) : contents.key
}

/** The kind and public key of an admin or member key file, plain or encrypted (no passphrase needed). */
export async function readPublicKey (file: string, kind: SigningKeyKind): Promise<string> {
  const contents = await readKeyFileContents(file)
  const found = contents.encrypted ? contents.kind : contents.key.kind
  if (found !== kind) throw wrongKind(file, kind, found)
  return contents.encrypted ? contents.publicKey : (contents.key as SigningKey).publicKey
}

/** Writes a key file atomically with mode 0600. Refuses to overwrite an existing key. */
export async function writeKeyFile (file: string, key: KeyFile | KeystoreDocument, opts: { overwrite?: boolean } = {}): Promise<void> {
  if (opts.overwrite !== true && await stat(file).then(() => true, () => false)) {
    throw new KeyFileError(file, 'already exists; refusing to overwrite a key (move it away first)')
  }
  await writeFileAtomic(file, encodeKeyFile(key), { mode: KEY_FILE_MODE, fsync: true })
}

/** Reads a key file, refusing one that group or others can read, or one of another kind; opens an encrypted one with `opts.passphrase`. */
export async function readKeyFile (file: string, kind?: undefined, opts?: ReadKeyOptions): Promise<KeyFile>
export async function readKeyFile (file: string, kind: 'node', opts?: ReadKeyOptions): Promise<NodeKey>
export async function readKeyFile (file: string, kind: SigningKeyKind, opts?: ReadKeyOptions): Promise<SigningKey>
export async function readKeyFile (file: string, kind?: KeyKind, opts: ReadKeyOptions = {}): Promise<KeyFile> {
  const contents = await readKeyFileContents(file)
  const found = contents.encrypted ? contents.kind : contents.key.kind
  if (kind !== undefined && found !== kind) throw wrongKind(file, kind, found)
  return await openKeyFileContents(contents, file, opts.passphrase)
}

async function readKeyText (file: string): Promise<string> {
  let mode: number
  let text: string
  try {
    mode = (await stat(file)).mode
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new KeyFileError(file, code === 'ENOENT' ? 'no such key file; create it with fedgate keygen' : `cannot read key file (${code ?? String(err)})`)
  }
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(file, `key file is readable by group or others (mode ${(mode & 0o777).toString(8)}); fix it with: chmod 600 ${file}`)
  }
  return text
}

function wrongKind (file: string, kind: KeyKind, found: KeyKind): KeyFileError {
  return new KeyFileError(file, `expected ${article(kind)} ${kind} key, found ${article(found)} ${found} key; create one with fedgate keygen ${kind}`)
}

function article (word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a'
}
