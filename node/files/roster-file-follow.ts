import { readFile } from 'node:fs/promises'
import writeFileAtomic from 'write-file-atomic'
import { Roster } from '../../membership/index.ts'

/** Minimal structured logger (pino-compatible). */
interface FollowLogger {
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
}

/**
 * Rewrites the operator's roster `file` to `accepted` when it holds an older epoch of the federation
 * (or is gone), atomically and keeping its mode, so the file reads as the node runs and a restart
 * does not refuse it as stale. A file with the same or a newer epoch (a draft being signed), another
 * federation's roster or something that is not a roster is the operator's, and stays as it is.
 * Failures are logged, never thrown: the epoch is accepted and stored either way.
 */
export async function followRosterFile (file: string, accepted: Roster, source: string, log: FollowLogger | undefined): Promise<void> {
  let onDisk: Roster | null = null
  try {
    onDisk = Roster.parse(await readFile(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log?.warn({ event: 'roster-file-not-updated', epoch: accepted.epoch, file, detail: err instanceof Error ? err.message : String(err) }, 'the roster file is not a roster; left as it is')
      return
    }
  }
  if (onDisk !== null && (onDisk.federation !== accepted.federation || onDisk.epoch >= accepted.epoch)) return
  try {
    await writeFileAtomic(file, accepted.encode(), { fsync: true })
    log?.info({ event: 'roster-file-updated', epoch: accepted.epoch, previousEpoch: onDisk?.epoch ?? null, file, source }, 'roster file rewritten to the accepted epoch')
  } catch (err) {
    log?.warn({ event: 'roster-file-not-updated', epoch: accepted.epoch, file, detail: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot rewrite the roster file; it still holds an older epoch')
  }
}
