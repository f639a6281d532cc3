import { readFile, rename, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ADMIN_ADDR_FILE } from '../daemon/index.ts'
import { CliError, printJson, printLine } from './io.ts'

/** A running node answers its admin endpoint at once; one that does not within this is taken as gone. */
const PROBE_TIMEOUT_MS = 2_000

/** What `node reset --json` prints. */
export interface NodeResetReport {
  dataDir: string
  /** Where the data directory was moved: the backup to restore by moving it back. */
  movedTo: string
}

/**
 * `fedgate node reset --data-dir DIR`: sets a stopped node's data directory aside (renamed, never
 * deleted), so the next start pins its roster file afresh, e.g. after the node moved to another
 * federation. Refuses while a node answers on the admin address the directory records.
 */
export function registerNodeReset (node: Command): void {
  node.command('reset')
    .description('set a stopped node\'s data directory aside (renamed to DIR.reset-TIME, a backup to move back to restore it); the next start begins from the roster file')
    .requiredOption('--data-dir <dir>', 'the node\'s data directory (dataDir in its config)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      const dataDir = resolve(opts.dataDir)
      const info = await stat(dataDir).catch(() => null)
      if (info === null) throw new CliError(`${dataDir}: no such data directory`, { fix: 'pass the dataDir of the node\'s config' })
      if (!info.isDirectory()) throw new CliError(`${dataDir}: not a folder`, { fix: 'pass the dataDir of the node\'s config' })
      const admin = await runningAdmin(dataDir)
      if (admin !== null) {
        throw new CliError(`${dataDir}: a node using it is running (its admin endpoint ${admin} answers)`, { fix: 'stop the node first (SIGTERM), then reset' })
      }
      const movedTo = `${dataDir}.reset-${new Date().toISOString().replace(/[:.]/g, '-')}`
      await rename(dataDir, movedTo).catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`${dataDir}: cannot move it to ${movedTo} (${err.code ?? String(err)})`, { fix: 'check the permissions of its parent folder' })
      })
      if (opts.json === true) printJson({ dataDir, movedTo } satisfies NodeResetReport)
      else printLine(`${dataDir}: moved to ${movedTo}; the next start pins the roster file as its first epoch (to restore, stop the node and move ${movedTo} back)`)
    })
}

/** The admin address recorded in the data directory, when a node answers on it. */
async function runningAdmin (dataDir: string): Promise<string | null> {
  const recorded = await readFile(join(dataDir, ADMIN_ADDR_FILE), 'utf8').catch(() => null)
  const admin = recorded?.trim()
  if (admin === undefined || admin === '') return null
  try {
    await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
    return admin
  } catch {
    return null
  }
}
