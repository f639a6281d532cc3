import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  addMember, allowProtocol, generateNodeKey, generateSigningKey, initRoster, issueCredential, signRoster, writeKeyFile
} from '../../../node/index.ts'
import type { StatusDocument } from '../../../node/daemon/index.ts'

const REPO = fileURLToPath(new URL('../../..', import.meta.url))
const FEDGATE = join(REPO, 'scripts', 'fedgate.ts')
/** A daemon that has not printed its startup summary by then is reported as failed. */
const START_TIMEOUT_MS = 30_000

/** A running `fedgate node start` process. */
export interface Daemon {
  readonly name: string
  readonly child: ChildProcess
  readonly admin: string
  readonly listen: string[]
  status (): Promise<StatusDocument>
  /** Resident memory now and at its peak, in MiB (Linux /proc). */
  memory (): Promise<{ rssMiB: number, peakMiB: number }>
  stop (): Promise<void>
}

export interface SidecarPair {
  readonly exposer: Daemon
  readonly forwarder: Daemon
  /** The bound local port of each of the forwarder's forwards, by service name. */
  readonly ports: ReadonlyMap<string, number>
  stop (): Promise<void>
}

/**
 * Two member nodes as an operator runs them: `exposer` (val-1) exposes `expose` (service name →
 * HOST:PORT); `forwarder` (val-2) dials it and forwards each service from a local port. The roster
 * allows validators on each service. `cpuProfDir` runs both under `node --cpu-prof`.
 */
export async function startSidecarPair (dir: string, expose: ReadonlyMap<string, string>, cpuProfDir?: string): Promise<SidecarPair> {
  const admins = [generateSigningKey('admin'), generateSigningKey('admin'), generateSigningKey('admin')]
  const members = ['val-1', 'val-2']
  const memberKeys = new Map(members.map(id => [id, generateSigningKey('member')]))
  let roster = initRoster({ federation: 'bench-sidecar', admins: admins.map(a => a.publicKey), threshold: 2 })
  for (const id of members) roster = addMember(roster, { id, roles: ['validator'], key: memberKeys.get(id)?.publicKey ?? '' })
  for (const name of expose.keys()) roster = allowProtocol(roster, `/fedgate/tcp/${name}/1.0.0`, ['validator'])
  for (const admin of admins.slice(0, 2)) roster = signRoster(roster, admin)
  await writeFile(join(dir, 'roster.json'), roster.encode())
  for (const id of members) {
    const nodeKey = await generateNodeKey()
    await writeKeyFile(join(dir, `${id}.key`), nodeKey)
    const credential = issueCredential({ roster, memberKey: memberKeys.get(id) ?? generateSigningKey('member'), memberId: id, peer: nodeKey.peerId })
    await writeFile(join(dir, `${id}.credential.json`), credential.encode())
  }
  const config = (id: string, extra: Record<string, unknown>): Record<string, unknown> => ({
    key: `${id}.key`,
    credential: `${id}.credential.json`,
    roster: 'roster.json',
    dataDir: `data-${id}`,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    admin: '127.0.0.1:0',
    auditLog: `${id}.audit.log`,
    ...extra
  })
  const exposer = await startDaemon(dir, 'val-1', config('val-1', { expose: [...expose].map(([name, target]) => ({ name, target })) }), cpuProfDir)
  let forwarder: Daemon
  try {
    forwarder = await startDaemon(dir, 'val-2', config('val-2', {
      dial: exposer.listen,
      forward: [...expose.keys()].map(name => ({ name, listen: '127.0.0.1:0', member: 'val-1' }))
    }), cpuProfDir)
  } catch (err) {
    await exposer.stop()
    throw err
  }
  const status = await forwarder.status()
  const ports = new Map(status.forward.map(f => [f.name, Number(f.listen.slice(f.listen.lastIndexOf(':') + 1))]))
  // The reserved-peer dial runs in the background; wait for it so the first tunnel does not pay for it.
  for (let i = 0; (await forwarder.status()).peers.length === 0; i++) {
    if (i > 200) throw new Error('the forwarder never connected to the exposer')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return {
    exposer,
    forwarder,
    ports,
    async stop () {
      await Promise.all([forwarder.stop(), exposer.stop()])
    }
  }
}

async function startDaemon (dir: string, name: string, config: Record<string, unknown>, cpuProfDir: string | undefined): Promise<Daemon> {
  const file = join(dir, `${name}.json`)
  await writeFile(file, JSON.stringify(config, null, 2))
  const profile = cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`]
  const child = spawn(process.execPath, [...profile, FEDGATE, 'node', 'start', '--config', file], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms: ${stderr}`)) }, START_TIMEOUT_MS)
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk
      if (/^ {2}data dir /m.test(stderr)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${String(code)}) before it started: ${stderr}`))
    })
  })
  const dataDir = join(dir, `data-${name}`)
  const admin = (await readFile(join(dataDir, 'admin.addr'), 'utf8')).trim()
  const listen = (await readFile(join(dataDir, 'listen.addrs'), 'utf8')).trim().split('\n')
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  return {
    name,
    child,
    admin,
    listen,
    async status () {
      return await (await fetch(`http://${admin}/status`)).json() as StatusDocument
    },
    async memory () {
      const text = await readFile(`/proc/${child.pid ?? 0}/status`, 'utf8')
      const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
      return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
    },
    async stop () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    }
  }
}
