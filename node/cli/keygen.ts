import { Argument, Option, type Command } from 'commander'
import { bytesToHex } from '@noble/hashes/utils.js'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { generateSigningKey, type NodeKeyType } from '../../membership/index.ts'
import type { KeyKind } from '../files/key-file.ts'
import { generateNodeKey } from '../node-key.ts'
import { DEFAULT_KDF_COST, encryptSigningKey, MAX_KDF_COST, MIN_KDF_COST } from '../files/keystore.ts'
import { refuseExisting, saveKey, savePsk } from './files.ts'
import { printResult, UsageError } from './io.ts'
import { kdfCost } from './options.ts'
import { newPassphrase, PASSPHRASE_ENV } from './passphrase.ts'

const NODE_KEY_TYPES: Readonly<Record<string, NodeKeyType>> = { ed25519: 'Ed25519', secp256k1: 'secp256k1' }

interface KeygenOptions {
  out: string
  type?: string
  json?: boolean
  encrypt?: boolean
  passphraseFile?: string
  kdfCost?: number
}

/** What `keygen --json` prints. `publicKey` of a node key is the hex libp2p protobuf public key. */
export interface KeygenResult {
  kind: KeyKind
  publicKey: string
  peerId?: string
  type?: NodeKeyType
  file: string
  /** Whether the key file is encrypted under a passphrase (admin and member keys, `--encrypt`). */
  encrypted?: boolean
}

/** `fedgate keygen node|member|admin --out FILE [--type ed25519|secp256k1] [--json]` */
export function registerKeygen (program: Command): Command {
  return program.command('keygen')
    .description('create a key file (mode 0600, never overwritten) and print its public key, and PeerId for a node key')
    .addArgument(new Argument('<kind>', 'node: libp2p identity of a node; member: signs credentials; admin: signs roster epochs; psk: a federation-wide pre-shared key (optional)').choices(['node', 'member', 'admin', 'psk']))
    .requiredOption('--out <file>', 'key file to create')
    .addOption(new Option('--type <type>', 'node key type (default ed25519)').choices(Object.keys(NODE_KEY_TYPES)))
    .option('--encrypt', 'encrypt an admin or member key under a passphrase (scrypt, AES-256-GCM)')
    .option('--passphrase-file <file>', `with --encrypt: file whose first line is the passphrase (else ${PASSPHRASE_ENV}, else a prompt)`)
    .option('--kdf-cost <n>', `with --encrypt: scrypt cost as log2(N), ${MIN_KDF_COST} to ${MAX_KDF_COST} (default ${DEFAULT_KDF_COST})`, kdfCost)
    .option('--json', 'print one JSON document')
    .action(async (kind: KeyKind | 'psk', opts: KeygenOptions) => {
      if (opts.encrypt !== true && (opts.passphraseFile !== undefined || opts.kdfCost !== undefined)) {
        throw new UsageError('--passphrase-file and --kdf-cost apply with --encrypt only', 'add --encrypt, or drop them')
      }
      if (opts.encrypt === true && (kind === 'node' || kind === 'psk')) {
        throw new UsageError(`--encrypt applies to admin and member keys; a ${kind} key is read unattended by the node`, 'drop --encrypt and keep the file at mode 0600 on the node')
      }
      if (kind === 'psk') {
        if (opts.type !== undefined) throw new UsageError('--type applies to node keys only', 'drop --type')
        await savePsk(opts.out)
        printResult(opts.json, { kind, file: opts.out }, () => [['kind', 'psk (libp2p swarm key)'], ['file', `${opts.out} (mode 0600); give the same file to every node (psk in the config)`]])
        return
      }
      const result = await keygen(kind, opts)
      printResult(opts.json, result, () => [
        ['kind', result.kind],
        ...(result.type !== undefined ? [['type', result.type] as const] : []),
        ...(result.peerId !== undefined ? [['peerId', result.peerId] as const] : []),
        ['publicKey', result.publicKey],
        ['file', `${result.file} (mode 0600${result.encrypted === true ? ', encrypted' : ''})`]
      ])
    })
}

async function keygen (kind: KeyKind, opts: KeygenOptions): Promise<KeygenResult> {
  if (kind !== 'node') {
    if (opts.type !== undefined) throw new UsageError(`--type applies to node keys only; ${kind} keys are always secp256k1`, `drop --type, or run fedgate keygen node --type ${opts.type}`)
    const key = generateSigningKey(kind)
    if (opts.encrypt === true) {
      await refuseExisting(opts.out)
      await saveKey(opts.out, encryptSigningKey(key, await newPassphrase(opts, opts.out), opts.kdfCost))
      return { kind, publicKey: key.publicKey, file: opts.out, encrypted: true }
    }
    await saveKey(opts.out, key)
    return { kind, publicKey: key.publicKey, file: opts.out }
  }
  const key = await generateNodeKey(NODE_KEY_TYPES[opts.type ?? 'ed25519'])
  await saveKey(opts.out, key)
  return {
    kind,
    type: key.type,
    peerId: key.peerId,
    publicKey: bytesToHex(publicKeyToProtobuf(key.privateKey.publicKey)),
    file: opts.out
  }
}
