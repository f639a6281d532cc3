import { readFile } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { Credential, type ReasonCode } from '../../membership/index.ts'
import { watchFile, type FileWatch } from './watch.ts'

/** A credential holds no secret: readable by all. */
const CREDENTIAL_FILE_MODE = 0o644

/** Thrown when a credential file cannot be read (`unreadable`) or does not decode (`malformed`). */
export class CredentialFileError extends Error {
  override readonly name = 'CredentialFileError'
  readonly file: string
  readonly code: Extract<ReasonCode, 'unreadable' | 'malformed'>

  constructor (file: string, code: Extract<ReasonCode, 'unreadable' | 'malformed'>, message: string) {
    super(`${file}: ${message}`)
    this.file = file
    this.code = code
  }
}

/** Reads and decodes a credential file; errors name the file and the fix. */
export async function readCredentialFile (file: string): Promise<Credential> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new CredentialFileError(file, 'unreadable', `cannot read credential file (${(err as NodeJS.ErrnoException).code ?? String(err)}); issue one with fedgate credential issue`)
  }
  try {
    return Credential.decode(bytes)
  } catch (err) {
    throw new CredentialFileError(file, 'malformed', `${err instanceof Error ? err.message : String(err)}; issue a new one with fedgate credential issue`)
  }
}

/** Writes a credential file atomically (temp file, fsync, rename). */
export async function writeCredentialFile (file: string, credential: Credential): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(credential.document, null, 2) + '\n', { fsync: true, mode: CREDENTIAL_FILE_MODE })
}

/**
 * Watches a credential file and hands each credential written there to `onCredential` (a renewal);
 * a file that cannot be read or decoded is reported to `onError` and the current credential stays.
 */
export function watchCredentialFile (file: string, onCredential: (credential: Credential) => void, onError: (err: CredentialFileError | Error) => void): FileWatch {
  return watchFile(file, () => {
    readCredentialFile(file).then(onCredential, onError)
  }, { debounceMs: 25, onError })
}
