import { readFile, stat } from 'node:fs/promises'
import type { PassphraseSource } from '../files/key-file.ts'
import { CliError, UsageError } from './io.ts'

/** The environment variable a passphrase may come from, for service managers and scripts. */
export const PASSPHRASE_ENV = 'FEDGATE_PASSPHRASE'
/** The shortest passphrase a key is encrypted under. */
export const MIN_PASSPHRASE_LENGTH = 8
const MAX_PASSPHRASE_LENGTH = 1024

export interface PassphraseOptions {
  passphraseFile?: string
}

/**
 * Where the passphrase of an encrypted key file comes from, in this order: `--passphrase-file`, the
 * FEDGATE_PASSPHRASE environment variable, a prompt on the terminal. Asked for once, when the first
 * encrypted key file is opened.
 */
export function passphraseSource (opts: PassphraseOptions): PassphraseSource {
  let cached: Promise<string> | undefined
  return async (file: string) => {
    cached ??= passphrase(opts, `passphrase for ${file}: `, `${file} is encrypted`)
    return await cached
  }
}

/** The passphrase to encrypt a key under, from the same places; a prompt asks twice. */
export async function newPassphrase (opts: PassphraseOptions, file: string): Promise<string> {
  const first = await passphrase(opts, `new passphrase for ${file}: `, `encrypting ${file} needs a passphrase`)
  if (opts.passphraseFile === undefined && process.env[PASSPHRASE_ENV] === undefined) {
    const again = await prompt(`repeat the passphrase for ${file}: `)
    if (again !== first) throw new CliError('the two passphrases differ; nothing was written', { fix: 'run the command again' })
  }
  if ([...first].length < MIN_PASSPHRASE_LENGTH) {
    throw new UsageError(`the passphrase is shorter than ${MIN_PASSPHRASE_LENGTH} characters; nothing was written`, 'choose a longer passphrase')
  }
  return first
}

async function passphrase (opts: PassphraseOptions, question: string, why: string): Promise<string> {
  if (opts.passphraseFile !== undefined) return await readPassphraseFile(opts.passphraseFile)
  const env = process.env[PASSPHRASE_ENV]
  if (env !== undefined) {
    if (env === '') throw new UsageError(`${PASSPHRASE_ENV} is set but empty`, `put the passphrase in it, or unset it and use --passphrase-file`)
    return env
  }
  if (process.stdin.isTTY !== true) {
    throw new UsageError(`${why} and there is no terminal to ask for its passphrase on`, `give --passphrase-file FILE (mode 0600) or set ${PASSPHRASE_ENV}`)
  }
  const answer = await prompt(question)
  if (answer === '') throw new UsageError('no passphrase given', 'type the passphrase, then Enter')
  return answer
}

/** Reads the first line of a passphrase file, refusing one that group or others can read. */
async function readPassphraseFile (file: string): Promise<string> {
  let mode: number
  let text: string
  try {
    mode = (await stat(file)).mode
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new CliError(`${file}: cannot read the passphrase file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { fix: 'check the --passphrase-file path' })
  }
  if ((mode & 0o077) !== 0) {
    throw new CliError(`${file}: the passphrase file is readable by group or others (mode ${(mode & 0o777).toString(8)})`, { fix: `chmod 600 ${file}` })
  }
  const line = text.split(/\r?\n/, 1)[0] ?? ''
  if (line === '') throw new CliError(`${file}: the passphrase file is empty (the passphrase is its first line)`, { fix: 'write the passphrase on its first line' })
  if (line.length > MAX_PASSPHRASE_LENGTH) throw new CliError(`${file}: the passphrase is longer than ${MAX_PASSPHRASE_LENGTH} characters`, { fix: 'use a shorter passphrase' })
  return line
}

/** Asks on the terminal (prompt on stderr) without echoing what is typed. Ctrl-C aborts. */
async function prompt (question: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(question)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  return await new Promise((resolve, reject) => {
    let answer = ''
    const done = (err: Error | null): void => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (err === null) resolve(answer)
      else reject(err)
    }
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') { done(null); return }
        if (ch === '\u0003') { done(new CliError('interrupted')); return }
        if (ch === '\u007f' || ch === '\b') answer = [...answer].slice(0, -1).join('')
        else answer += ch
      }
    }
    stdin.on('data', onData)
  })
}
