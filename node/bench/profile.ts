import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

/**
 * Runs `task` under the V8 CPU profiler when `dir` is set and writes `dir/name.cpuprofile`
 * (open it in Chrome DevTools or speedscope); runs it plainly otherwise.
 */
export async function profiled<T> (dir: string | undefined, name: string, task: () => Promise<T>): Promise<T> {
  if (dir === undefined) return await task()
  const session = new Session()
  session.connect()
  try {
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    const result = await task()
    const { profile } = await session.post('Profiler.stop')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile))
    return result
  } finally {
    session.disconnect()
  }
}
