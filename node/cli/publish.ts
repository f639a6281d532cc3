import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { MAX_ROSTER_BYTES, reasonFix, Roster } from '../../membership/index.ts'
import { DEFAULT_ADMIN, type PublishDocument, type StatusDocument } from '../daemon/index.ts'
import { readSecretFile } from '../files/secret-file.ts'
import { request } from './admin-request.ts'
import { attributeTo, CliError, EXIT_REFUSED, printJson, printLine } from './io.ts'

/** Publishing verifies every signature of the epoch, which takes a while for large rosters. */
const PUBLISH_TIMEOUT_MS = 120_000
const STATUS_TIMEOUT_MS = 10_000

/** One epoch to publish: where it was read, its text as read, and what it parses to. */
interface EpochFile {
  readonly file: string
  readonly text: string
  readonly roster: Roster
}

/** What `roster publish --json` prints for several epochs (one epoch prints the node's answer alone). */
export interface PublishChainReport {
  /** The epoch the node ran before. */
  nodeEpoch: number
  /** The epochs sent, in order, with the node's answer to each (the last may be a refusal). */
  published: Array<{ file: string, epoch: number } & PublishDocument>
  /** Epochs not sent because the node already runs that epoch or a newer one. */
  skipped: Array<{ file: string, epoch: number }>
}

/** `fedgate roster publish FILE…|DIR`: hand a running node the epochs it lacks, in order. */
export function registerPublish (program: Command): void {
  const roster = program.commands.find(c => c.name() === 'roster') ?? program.command('roster').description('roster epochs')
  roster.command('publish')
    .description('hand signed roster epochs to a running node (POST /roster): one file, several, or a folder of them, sent in epoch order from the first the node lacks; exit 1 if the node refuses one')
    .argument('<files...>', 'roster files, or folders whose *.json roster files are all taken')
    .option('--admin <host:port>', 'the node\'s admin endpoint', DEFAULT_ADMIN)
    .option('--admin-token <file>', 'file holding the bearer token the node requires (its config\'s adminToken)')
    .option('--json', 'print the node\'s answer as one JSON document')
    .action(async (paths: string[], opts: { admin: string, adminToken?: string, json?: boolean }) => {
      const epochs = await collectEpochs(paths)
      const token = opts.adminToken === undefined ? undefined : await readSecretFile(opts.adminToken).catch((err: unknown) => { throw new CliError(err instanceof Error ? err.message : String(err)) })
      const single = epochs.length === 1 ? epochs[0] : undefined
      if (single !== undefined) {
        const answer = await post(opts.admin, single, token)
        if (opts.json === true) printJson(answer)
        report(opts, single, answer)
        return
      }
      const status = await request(opts.admin, '/status', { method: 'GET', timeoutMs: STATUS_TIMEOUT_MS })
      if (status.status !== 200) throw new CliError(`admin endpoint ${opts.admin}: /status answered HTTP ${status.status}`, { fix: 'check that --admin points at a fedgate node' })
      const nodeEpoch = (status.doc as StatusDocument).rosterEpoch
      const chain: PublishChainReport = { nodeEpoch, published: [], skipped: [] }
      for (const e of epochs) {
        if (e.roster.epoch <= nodeEpoch) {
          chain.skipped.push({ file: e.file, epoch: e.roster.epoch })
          continue
        }
        const answer = await post(opts.admin, e, token)
        chain.published.push({ file: e.file, epoch: e.roster.epoch, ...answer })
        if (!answer.accepted) break
      }
      if (opts.json === true) printJson(chain)
      if (chain.published.length === 0 && opts.json !== true) printLine(`the node at ${opts.admin} already runs epoch ${nodeEpoch}; nothing to send`)
      for (const p of chain.published) report(opts, epochs.find(e => e.file === p.file) ?? epochs[0] as EpochFile, p)
    })
}

async function post (admin: string, e: EpochFile, token: string | undefined): Promise<PublishDocument> {
  const { status, doc } = await request(admin, '/roster', { method: 'POST', body: e.text, timeoutMs: PUBLISH_TIMEOUT_MS, ...(token === undefined ? {} : { token }) })
  const answer = doc as PublishDocument
  if (status === 401) throw new CliError(`admin endpoint ${admin}: the node requires a bearer token for POST /roster`, { fix: 'pass --admin-token FILE, the file the node config\'s adminToken names' })
  if ((status !== 200 && status !== 409 && status !== 413) || typeof answer.accepted !== 'boolean') {
    throw new CliError(`admin endpoint ${admin}: /roster answered HTTP ${status}`, { fix: 'check that --admin points at a fedgate node' })
  }
  return answer
}

/** One line per epoch the node took; a refusal is the command's error, with a fix that fits. */
function report (opts: { admin: string, json?: boolean }, e: EpochFile, answer: PublishDocument): void {
  if (!answer.accepted) {
    const detail = answer.message.startsWith(`${answer.code}:`) ? answer.message : `${answer.code}: ${answer.message}`
    throw new CliError(`${e.file}: refused by the node at ${opts.admin}: ${detail}`, { exitCode: EXIT_REFUSED, fix: refusalFix(e, answer) })
  }
  if (opts.json === true) return
  printLine(answer.alreadyInForce
    ? `${e.file}: epoch ${answer.epoch} was already in force on the node at ${opts.admin}; nothing changed`
    : `${e.file}: epoch ${answer.epoch} accepted by the node at ${opts.admin}`)
}

/**
 * An under-signed epoch more than one ahead of the node may be fully signed, by admins an epoch in
 * between appointed: then the node needs those epochs first, and the fix says which.
 */
function refusalFix (e: EpochFile, answer: PublishDocument & { accepted: false }): string {
  const nodeEpoch = answer.nodeEpoch
  if (answer.code === 'threshold-not-met' && nodeEpoch !== undefined && e.roster.epoch > nodeEpoch + 1) {
    const missing = e.roster.epoch === nodeEpoch + 2 ? `epoch ${nodeEpoch + 1}` : `epochs ${nodeEpoch + 1} to ${e.roster.epoch - 1}`
    return `the node runs epoch ${nodeEpoch}; if ${missing} changed the admins, the node needs ${missing === `epoch ${nodeEpoch + 1}` ? 'it' : 'them'} first: ` +
      `fedgate roster publish with the file of ${missing} and then ${e.file} (or a folder holding them all); otherwise collect more signatures by the admins of epoch ${nodeEpoch}`
  }
  return answer.fix
}

/** The roster files named, folders expanded to their *.json rosters, in epoch order; the same epoch twice must be the same epoch. */
async function collectEpochs (paths: readonly string[]): Promise<EpochFile[]> {
  const found: EpochFile[] = []
  for (const path of paths) {
    const info = await stat(path).catch(() => null)
    if (info?.isDirectory() === true) {
      const names = (await readdir(path)).filter(n => n.endsWith('.json')).sort()
      const inFolder: EpochFile[] = []
      for (const name of names) {
        const file = join(path, name)
        const text = await readRosterText(file)
        try {
          inFolder.push({ file, text, roster: Roster.parse(text) })
        } catch {
          // A folder of epochs may hold other JSON files (configs, credentials): only rosters are taken.
        }
      }
      if (inFolder.length === 0) throw new CliError(`${path}: no roster files (*.json) in this folder`, { fix: 'give the roster files, or the folder that holds them' })
      found.push(...inFolder)
    } else {
      const text = await readRosterText(path)
      try {
        found.push({ file: path, text, roster: Roster.parse(text) })
      } catch (err) {
        throw attributeTo(path, err)
      }
    }
  }
  const byEpoch = new Map<number, EpochFile>()
  for (const e of found) {
    const first = found[0]
    if (first !== undefined && e.roster.federation !== first.roster.federation) {
      throw new CliError(`${e.file}: federation ${JSON.stringify(e.roster.federation)}, but ${first.file} is for ${JSON.stringify(first.roster.federation)}`, { fix: 'publish the epochs of one federation' })
    }
    const same = byEpoch.get(e.roster.epoch)
    if (same !== undefined && same.roster.fingerprint !== e.roster.fingerprint) {
      throw new CliError(`${e.file} and ${same.file}: two different rosters of epoch ${e.roster.epoch}`, { fix: 'keep only the signed epoch the admins agreed on (fedgate roster diff shows how they differ)' })
    }
    byEpoch.set(e.roster.epoch, same ?? e)
  }
  return [...byEpoch.values()].sort((a, b) => a.roster.epoch - b.roster.epoch)
}

async function readRosterText (file: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(`${file}: ${code === 'ENOENT' ? 'no such roster file' : `cannot read roster file (${code ?? String(err)})`}`, { fix: 'check the path' })
  }
  if (bytes.length > MAX_ROSTER_BYTES) throw new CliError(`${file}: ${bytes.length} bytes, a roster is at most ${MAX_ROSTER_BYTES}`, { fix: reasonFix('malformed') })
  return bytes.toString('utf8')
}
