import { chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises'
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
 * The file is compared again right before the rename: when the operator (or another process) wrote
 * it meanwhile, their file stays. Failures are logged, never thrown: the epoch is accepted and
 * stored either way.
 */
export async function followRosterFile (file: string, accepted: Roster, source: string, log: FollowLogger | undefined): Promise<void> {
  let onDisk: Roster | null = null
  let text: string | undefined
  try {
    text = await readFile(file, 'utf8')
    onDisk = Roster.parse(text)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log?.warn({ event: 'roster-file-not-updated', epoch: accepted.epoch, file, detail: err instanceof Error ? err.message : String(err) }, 'the roster file is not a roster; left as it is')
      return
    }
  }
  if (onDisk !== null && (onDisk.federation !== accepted.federation || onDisk.epoch >= accepted.epoch)) return
  const temp = `${file}.fedgate-${process.pid}-${accepted.epoch}`
  try {
    const mode = text === undefined ? 0o644 : (await stat(file)).mode & 0o777
    const handle = await open(temp, 'w', mode)
    try {
      await handle.writeFile(accepted.encode())
      await handle.sync()
    } finally {
      await handle.close()
    }
    await chmod(temp, mode)
    const now = await readFile(file, 'utf8').catch(() => undefined)
    if (now !== text) {
      await unlink(temp)
      return
    }
    await rename(temp, file)
    log?.info({ event: 'roster-file-updated', epoch: accepted.epoch, previousEpoch: onDisk?.epoch ?? null, file, source }, 'roster file rewritten to the accepted epoch')
  } catch (err) {
    await unlink(temp).catch(() => {})
    log?.warn({ event: 'roster-file-not-updated', epoch: accepted.epoch, file, detail: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot rewrite the roster file; it still holds an older epoch')
  }
}
