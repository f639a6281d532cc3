import { readFile, stat } from 'node:fs/promises'

/** Thrown when a secret file (a token) is missing, empty or readable by others. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError'
  readonly file: string

  constructor (file: string, message: string) {
    super(`${file}: ${message}`)
    this.file = file
  }
}

/** Reads a one-line secret (a bearer token), refusing a file that group or others can read. */
export async function readSecretFile (file: string): Promise<string> {
  let mode: number
  let text: string
  try {
    mode = (await stat(file)).mode
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new SecretFileError(file, `cannot read the token file (${(err as NodeJS.ErrnoException).code ?? String(err)}); create it with: openssl rand -hex 32 > ${file} && chmod 600 ${file}`)
  }
  if ((mode & 0o077) !== 0) throw new SecretFileError(file, `the token file is readable by group or others (mode ${(mode & 0o777).toString(8)}); fix it with: chmod 600 ${file}`)
  const token = text.trim()
  if (!/^[\x21-\x7e]{16,512}$/.test(token)) throw new SecretFileError(file, 'the token must be one line of 16 to 512 printable characters without spaces; create one with: openssl rand -hex 32')
  return token
}

const SWARM_KEY = /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\s*$/

/** Reads a libp2p swarm key (`fedgate keygen psk`), refusing one that group or others can read. */
export async function readSwarmKey (file: string): Promise<Uint8Array> {
  let mode: number
  let text: string
  try {
    mode = (await stat(file)).mode
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new SecretFileError(file, `cannot read the pre-shared key file (${(err as NodeJS.ErrnoException).code ?? String(err)}); make one with fedgate keygen psk --out ${file}`)
  }
  if ((mode & 0o077) !== 0) throw new SecretFileError(file, `the pre-shared key file is readable by group or others (mode ${(mode & 0o777).toString(8)}); fix it with: chmod 600 ${file}`)
  if (!SWARM_KEY.test(text)) throw new SecretFileError(file, 'not a libp2p swarm key (/key/swarm/psk/1.0.0/, /base16/, 64 hex characters); make one with fedgate keygen psk')
  return new TextEncoder().encode(text)
}
