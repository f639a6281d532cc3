import { rmSync } from 'node:fs'
import { mkdtemp, open, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Runs `task` in a fresh temp directory named `prefix…`, removed when the task ends, either way,
 * and when the process gets SIGINT or SIGTERM meanwhile (it then exits with 130).
 */
export async function withTempDir<T> (prefix: string, task: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const interrupted = (): void => {
    rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    return await task(dir)
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await rm(dir, { recursive: true, force: true })
  }
}

/** Replaces `file` the way the CLI does (temp file in the same directory, fsync, rename); returns when the rename began. */
export async function renameOver (file: string, text: string): Promise<number> {
  const temp = `${file}.tmp-${process.pid}`
  const handle = await open(temp, 'w', 0o644)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  const start = performance.now()
  await rename(temp, file)
  return start
}
