import { readdir, readFile, readlink } from 'node:fs/promises'

/** Linux reports process CPU time in clock ticks of 10 ms (CLK_TCK 100). */
const MS_PER_TICK = 10

/** CPU time (user + system) a process has used so far, in ms; this process's own with `pid` undefined. */
export async function cpuMs (pid: number | undefined): Promise<number> {
  if (pid === undefined) {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  }
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK
}

/** The CPU time all of `pids` (undefined: this process) spent while `work` ran, in ms. */
export async function cpuDuring<T> (pids: ReadonlyArray<number | undefined>, work: () => Promise<T>): Promise<{ result: T, cpuMs: number }> {
  const before = await Promise.all(pids.map(cpuMs))
  const result = await work()
  const after = await Promise.all(pids.map(cpuMs))
  return { result, cpuMs: after.reduce((sum, t, i) => sum + t - (before[i] ?? 0), 0) }
}

/** How many sockets a process holds open now (Linux /proc). */
export async function openSockets (pid: number): Promise<number> {
  const fds = await readdir(`/proc/${pid}/fd`)
  const targets = await Promise.all(fds.map(async fd => await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')))
  return targets.filter(t => t.startsWith('socket:')).length
}

/** A process's resident memory now and at its peak, in MiB (Linux /proc). */
export async function residentMemory (pid: number): Promise<{ rssMiB: number, peakMiB: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
}
