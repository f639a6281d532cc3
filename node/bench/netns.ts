import { execFile, execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { constants } from 'node:os'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Set to 1 to skip what needs network namespaces on a machine that has none (CI never sets it). */
export const SKIP_NETNS_ENV = 'FEDGATE_SKIP_NETNS'
/** Every namespace, bridge and veth this module makes starts with this, so a stale one can be found. */
const NS_PREFIX = 'fedgate-'
/** Each host's address is 10.213.<subnet>.<HOST_OFFSET + index>; the bridge (this process's side) is .1. */
const SUBNET_PREFIX = '10.213'
const HOST_OFFSET = 11
/** Signals that end a process: the lab cleans up before it goes. */
const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Thrown when this machine cannot make network namespaces, naming what is needed. */
export class NetnsUnavailableError extends Error {
  override readonly name = 'NetnsUnavailableError'
}

/** One host: a network namespace with its own IP on the lab's bridge. */
export interface Host {
  readonly name: string
  readonly ns: string
  readonly ip: string
  /** The bridge side of its veth pair: setting it down cuts the host off. */
  readonly link: string
}

/**
 * Why this machine cannot run a NetnsLab, or null when it can: Linux, root, iproute2's `ip`, and a
 * kernel that lets us make a namespace, a bridge and a veth pair.
 */
export function netnsUnavailable (): string | null {
  const need = 'it needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2\'s `ip` with network namespace, veth and bridge support'
  if (process.platform !== 'linux') return `network namespaces are Linux only (this is ${process.platform}); ${need}`
  if (process.getuid?.() !== 0) return `not running as root (uid ${String(process.getuid?.())}); ${need}`
  if (spawnSync('ip', ['-V']).status !== 0) return `no \`ip\` command (install iproute2); ${need}`
  const probe = `${NS_PREFIX}probe-${process.pid}`
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (made.status !== 0) return `the kernel refused a network namespace (ip netns add: ${made.stderr.trim()}); ${need}`
  spawnSync('ip', ['netns', 'del', probe])
  const link = `fgp${process.pid.toString(36)}`
  const veth = spawnSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}b`], { encoding: 'utf8' })
  if (veth.status !== 0) return `the kernel refused a veth pair (ip link add: ${veth.stderr.trim()}); ${need}`
  spawnSync('ip', ['link', 'del', link])
  return null
}

/** Throws NetnsUnavailableError when this machine cannot run a NetnsLab, saying what it needs and how to opt out. */
export function requireNetns (what: string): void {
  const reason = netnsUnavailable()
  if (reason === null) return
  throw new NetnsUnavailableError(`${what} cannot run: ${reason}. Run it as root on Linux, or set ${SKIP_NETNS_ENV}=1 to skip it on a machine without network namespaces.`)
}

/** True when the operator asked to skip what needs network namespaces and this machine has none. */
export function skipNetns (): boolean {
  return process.env[SKIP_NETNS_ENV] === '1' && netnsUnavailable() !== null
}

let labCount = 0

/**
 * Hosts on one LAN, made of network namespaces: each has its own IP on a veth pair whose other end
 * is on a bridge in this process's namespace (which holds the bridge's address, so this process
 * reaches every host, as an operator on the LAN would). Processes started with `spawn` (or forked
 * under `command`) run inside a host. `close` kills them and removes every namespace and link; it
 * also runs when the process exits or is ended by SIGINT, SIGTERM or SIGHUP, and a lab whose
 * process was killed outright is removed by the next lab made on the machine.
 */
export class NetnsLab {
  readonly hosts: readonly Host[]
  readonly bridge: string
  readonly bridgeIp: string
  private readonly children = new Set<ChildProcess>()
  private closed = false
  private readonly onExit = (): void => { this.closeSync() }
  /**
   * Cleans up, then ends the process as the signal would have (re-raising it is not enough: a
   * listener of another module, such as signal-exit's, may keep the process running).
   */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.closeSync()
    process.exit(128 + constants.signals[signal])
  }

  private constructor (hosts: Host[], bridge: string, bridgeIp: string) {
    this.hosts = hosts
    this.bridge = bridge
    this.bridgeIp = bridgeIp
  }

  /** Makes `count` hosts named h1…hN (throws NetnsUnavailableError when the machine cannot). */
  static async create (count: number, what = 'this multi-host run'): Promise<NetnsLab> {
    requireNetns(what)
    removeStaleLabs()
    // The tag names this process (base 36 pid), so a lab left by a killed process can be told apart.
    const tag = `${process.pid.toString(36)}${(labCount++ % 36).toString(36)}`
    const subnet = await freeSubnet()
    const bridge = `fgb-${tag}`
    const bridgeIp = `${SUBNET_PREFIX}.${subnet}.1`
    const hosts = Array.from({ length: count }, (_, i): Host => ({
      name: `h${i + 1}`,
      ns: `${NS_PREFIX}${tag}-h${i + 1}`,
      ip: `${SUBNET_PREFIX}.${subnet}.${HOST_OFFSET + i}`,
      link: `fg-${tag}-${i + 1}`
    }))
    const lab = new NetnsLab(hosts, bridge, bridgeIp)
    process.once('exit', lab.onExit)
    for (const signal of EXIT_SIGNALS) process.once(signal, lab.onSignal)
    try {
      await ip('link', 'add', bridge, 'type', 'bridge')
      await ip('addr', 'add', `${bridgeIp}/24`, 'dev', bridge)
      await ip('link', 'set', bridge, 'up')
      for (const host of hosts) {
        await ip('netns', 'add', host.ns)
        await ip('link', 'add', host.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns)
        await ip('link', 'set', host.link, 'master', bridge, 'up')
        await ip('-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0')
        await ip('-n', host.ns, 'link', 'set', 'eth0', 'up')
        await ip('-n', host.ns, 'link', 'set', 'lo', 'up')
      }
    } catch (err) {
      await lab.close()
      throw err
    }
    return lab
  }

  host (name: string): Host {
    const host = this.hosts.find(h => h.name === name)
    if (host === undefined) throw new Error(`no host ${name} in this lab`)
    return host
  }

  /** Runs `command` inside `host` (ip netns exec execs it: the child's pid is the command's). */
  spawn (host: Host, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.closed) throw new Error('the lab is closed')
    const child = spawn('ip', ['netns', 'exec', host.ns, command, ...args], options)
    this.children.add(child)
    child.once('exit', () => { this.children.delete(child) })
    return child
  }

  /** The command that runs what follows it inside `host` (for Agent.start's `under`). */
  command (host: Host): string[] {
    return ['ip', 'netns', 'exec', host.ns]
  }

  /** Cuts `host` off the LAN (its link down) or connects it again. */
  async setLink (host: Host, up: boolean): Promise<void> {
    await ip('link', 'set', host.link, up ? 'up' : 'down')
  }

  /** Kills what still runs inside the hosts and removes the namespaces and the bridge. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    const exits = [...this.children].map(async child => await new Promise<void>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return }
      child.once('exit', () => { resolve() })
      child.kill('SIGKILL')
    }))
    await Promise.all(exits)
    this.closeSync()
  }

  private closeSync (): void {
    if (this.closed) return
    this.closed = true
    process.off('exit', this.onExit)
    for (const signal of EXIT_SIGNALS) process.off(signal, this.onSignal)
    for (const child of this.children) child.kill('SIGKILL')
    // Whatever else runs inside a host (an agent forked under `command`) goes too.
    for (const host of this.hosts) {
      const pids = spawnSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).stdout ?? ''
      for (const pid of pids.split('\n').filter(p => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          // Already gone.
        }
      }
    }
    // Deleting a namespace deletes its end of the veth pair, and with it the bridge end.
    for (const host of this.hosts) quietIp('netns', 'del', host.ns)
    quietIp('link', 'del', this.bridge)
  }
}

async function ip (...args: string[]): Promise<void> {
  try {
    await run('ip', args)
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? String(err)
    throw new Error(`ip ${args.join(' ')}: ${stderr}`)
  }
}

function quietIp (...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' })
  } catch {
    // Already gone.
  }
}

/** A 10.213.N.0/24 no interface of this namespace uses yet. */
async function freeSubnet (): Promise<number> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr'])
  const used = new Set([...stdout.matchAll(/inet 10\.213\.(\d+)\./g)].map(m => Number(m[1])))
  const start = 1 + Math.floor(Math.random() * 250)
  for (let i = 0; i < 250; i++) {
    const n = 1 + ((start + i) % 250)
    if (!used.has(n)) return n
  }
  throw new Error('no free 10.213.N.0/24 subnet for the lab')
}

/** Removes the namespaces and bridges of labs whose process is gone (killed before it could clean up). */
function removeStaleLabs (): void {
  const alive = (tag: string): boolean => {
    try {
      process.kill(parseInt(tag.slice(0, -1), 36), 0)
      return true
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? ''
  for (const m of namespaces.matchAll(new RegExp(`^(${NS_PREFIX}([0-9a-z]+)-h\\d+)`, 'gm'))) {
    if (m[1] !== undefined && m[2] !== undefined && !alive(m[2])) quietIp('netns', 'del', m[1])
  }
  const links = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }).stdout ?? ''
  for (const m of links.matchAll(/^\d+: (fgb-([0-9a-z]+)):/gm)) {
    if (m[1] !== undefined && m[2] !== undefined && !alive(m[2])) quietIp('link', 'del', m[1])
  }
}
