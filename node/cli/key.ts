import type { Command } from 'commander'
import { openKeyFileContents, readKeyFileContents } from '../files/key-file.ts'
import { DEFAULT_KDF_COST, encryptSigningKey, MAX_KDF_COST, MIN_KDF_COST } from '../files/keystore.ts'
import { replaceKey } from './files.ts'
import { CliError, printResult } from './io.ts'
import { kdfCost } from './options.ts'
import { newPassphrase, passphraseSource, PASSPHRASE_ENV } from './passphrase.ts'

/** What `key encrypt|decrypt --json` prints. */
export interface KeyChangeResult {
  file: string
  kind: string
  publicKey: string
  encrypted: boolean
}

interface KeyOptions {
  passphraseFile?: string
  kdfCost?: number
  json?: boolean
}

/** `fedgate key encrypt|decrypt FILE`: put an admin or member key file under a passphrase, or take it off. */
export function registerKey (program: Command): Command {
  const key = program.command('key').description('encrypt or decrypt an admin or member key file in place')

  key.command('encrypt')
    .description('encrypt a plain admin or member key file under a passphrase (scrypt, AES-256-GCM), replacing it atomically')
    .argument('<file>', 'plain admin or member key file')
    .option('--passphrase-file <file>', `file whose first line is the new passphrase (else ${PASSPHRASE_ENV}, else a prompt that asks twice)`)
    .option('--kdf-cost <n>', `scrypt cost as log2(N), ${MIN_KDF_COST} to ${MAX_KDF_COST} (default ${DEFAULT_KDF_COST})`, kdfCost)
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: KeyOptions) => {
      const contents = await readKeyFileContents(file)
      if (contents.encrypted) throw new CliError(`${file}: already encrypted`, { fix: `to change its passphrase: fedgate key decrypt ${file}, then fedgate key encrypt ${file}` })
      const plain = contents.key
      if (plain.kind === 'node') throw new CliError(`${file}: a node key is read unattended by the node and is not encrypted`, { fix: 'keep it at mode 0600 on the node' })
      await replaceKey(file, encryptSigningKey(plain, await newPassphrase(opts, file), opts.kdfCost))
      report(opts.json, { file, kind: plain.kind, publicKey: plain.publicKey, encrypted: true })
    })

  key.command('decrypt')
    .description('turn an encrypted admin or member key file back into a plain one (mode 0600), replacing it atomically')
    .argument('<file>', 'encrypted key file')
    .option('--passphrase-file <file>', `file whose first line is the passphrase (else ${PASSPHRASE_ENV}, else a prompt)`)
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: KeyOptions) => {
      const contents = await readKeyFileContents(file)
      if (!contents.encrypted) throw new CliError(`${file}: not encrypted; nothing to do`, { fix: `encrypt it with fedgate key encrypt ${file}` })
      const plain = await openKeyFileContents(contents, file, passphraseSource(opts))
      await replaceKey(file, plain)
      report(opts.json, { file, kind: plain.kind, publicKey: contents.publicKey, encrypted: false })
    })

  return key
}

function report (json: boolean | undefined, result: KeyChangeResult): void {
  printResult(json, result, () => [
    ['kind', result.kind],
    ['publicKey', result.publicKey],
    ['file', `${result.file} (mode 0600, ${result.encrypted ? 'encrypted' : 'plain: protect it'})`]
  ])
}
