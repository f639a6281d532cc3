import { readFile, stat } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { KeyFileError, obj, signingKeyDocument, signingKeyFromDocument, str, type SigningKey, type SigningKeyKind } from '../../membership/index.ts'
import { nodeKeyDocument, nodeKeyFromDocument, type NodeKey } from '../node-key.ts'

export type KeyKind = SigningKeyKind | 'node'
export type KeyFile = SigningKey | NodeKey

/** Key files hold secrets: readable by their owner only. */
export const KEY_FILE_MODE = 0o600

/** The JSON text stored in a key file. */
export function encodeKeyFile (key: KeyFile): string {
  const doc = key.kind === 'node' ? nodeKeyDocument(key) : signingKeyDocument(key)
  return JSON.stringify(doc, null, 2) + '\n'
}

/** Decodes a key file's text; errors name `file` and the fix. */
export function decodeKeyFile (text: string, file: string): KeyFile {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new KeyFileError(file, 'not a fedgate key file (invalid JSON); create one with fedgate keygen')
  }
  try {
    const doc = obj(json, '$')
    const kind = str(doc.kind, '$.kind', { pattern: /^(admin|member|node)$/, hint: 'admin, member or node' })
    return kind === 'node' ? nodeKeyFromDocument(doc) : signingKeyFromDocument(doc)
  } catch (err) {
    throw new KeyFileError(file, `${err instanceof Error ? err.message : String(err)}; regenerate it with fedgate keygen`)
  }
}

/** Writes a key file atomically with mode 0600. Refuses to overwrite an existing key. */
export async function writeKeyFile (file: string, key: KeyFile, opts: { overwrite?: boolean } = {}): Promise<void> {
  if (opts.overwrite !== true && await stat(file).then(() => true, () => false)) {
    throw new KeyFileError(file, 'already exists; refusing to overwrite a key (move it away first)')
  }
  await writeFileAtomic(file, encodeKeyFile(key), { mode: KEY_FILE_MODE, fsync: true })
}

/** Reads a key file, refusing one that group or others can read, or one of another kind. */
export async function readKeyFile (file: string): Promise<KeyFile>
export async function readKeyFile (file: string, kind: 'node'): Promise<NodeKey>
export async function readKeyFile (file: string, kind: SigningKeyKind): Promise<SigningKey>
export async function readKeyFile (file: string, kind?: KeyKind): Promise<KeyFile> {
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
  const key = decodeKeyFile(text, file)
  if (kind !== undefined && key.kind !== kind) {
    throw new KeyFileError(file, `expected ${article(kind)} ${kind} key, found ${article(key.kind)} ${key.kind} key; create one with fedgate keygen ${kind}`)
  }
  return key
}

function article (word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a'
}
