import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createFederationBuilder, nodeConfig, writeCredentialFile, writeKeyFile, writeNodeConfig, writeRosterFile, type FederationBuilder
} from '../../node/builder/index.ts'
import type { NodeKey, Roster, SigningKey } from '../../node/index.ts'

/** The repository root: the CLI runs from here, as `node scripts/fedgate.ts`. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url))
export const HOUR_MS = 3_600_000
export const CONSENSUS = '/chain/consensus/1.0.0'

export interface MemberFiles {
  readonly id: string
  readonly roles: string[]
  readonly memberKey: SigningKey
  readonly nodeKey: NodeKey
  readonly keyFile: string
  readonly credentialFile: string
}

/**
 * A federation on disk: three admins (2 of 3 sign each epoch), one member per entry of `members`,
 * each with a node key file (0600) and a credential file, and one signed roster file.
 */
export class Federation {
  readonly dir: string
  readonly admins: readonly SigningKey[]
  readonly members = new Map<string, MemberFiles>()
  roster: Roster
  private readonly builder: FederationBuilder

  private constructor (dir: string, builder: FederationBuilder) {
    this.dir = dir
    this.builder = builder
    this.admins = builder.admins
    this.roster = builder.roster
  }

  get rosterFile (): string {
    return join(this.dir, 'roster.json')
  }

  static async create (dir: string, members: ReadonlyArray<{ id: string, roles: string[], ttlMs?: number }>): Promise<Federation> {
    const builder = createFederationBuilder({ federation: 'daemon-fed', members, protocols: { [CONSENSUS]: ['validator'] } })
    const fed = new Federation(dir, builder)
    await fed.writeRoster(builder.roster)
    for (const m of members) {
      const files: MemberFiles = {
        id: m.id,
        roles: m.roles,
        memberKey: builder.memberKey(m.id),
        nodeKey: await builder.nodeKey(m.id),
        keyFile: join(dir, `${m.id}.key`),
        credentialFile: join(dir, `${m.id}.credential.json`)
      }
      await writeKeyFile(files.keyFile, files.nodeKey)
      await fed.writeCredential(files, m.ttlMs)
      fed.members.set(m.id, files)
    }
    return fed
  }

  member (id: string): MemberFiles {
    const m = this.members.get(id)
    if (m === undefined) throw new Error(`no member ${id}`)
    return m
  }

  async writeCredential (m: MemberFiles, ttlMs?: number, file: string = m.credentialFile): Promise<void> {
    const credential = await this.builder.issue({ member: m.id, peer: m.nodeKey.peerId, ttlMs, roster: this.roster })
    await writeCredentialFile(file, credential)
  }

  /** The next epoch: `edit` applied to `from`, signed by `signers` admins (2 meets the threshold). */
  nextEpoch (edit: (r: Roster) => Roster, signers = 2, from: Roster = this.roster): Roster {
    return this.builder.nextEpoch(edit, { signers, from })
  }

  /** Replaces the roster file atomically, as `fedgate roster sign` does; running nodes watch it. */
  async writeRoster (roster: Roster, file: string = this.rosterFile): Promise<void> {
    await writeRosterFile(file, roster)
    if (file === this.rosterFile) this.roster = roster
  }

  /** Writes a node config file and returns its path. */
  async writeConfig (name: string, config: Record<string, unknown>): Promise<string> {
    const file = join(this.dir, `${name}.json`)
    await writeNodeConfig(file, config)
    return file
  }

  /** The config of a member's node, with paths relative to the config file, on port 0 everywhere. */
  configOf (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const config = join(this.dir, `${id}.json`)
    return {
      ...nodeConfig(config, {
        key: join(this.dir, `${id}.key`),
        credential: join(this.dir, `${id}.credential.json`),
        roster: this.rosterFile,
        dataDir: join(this.dir, `data-${id}`)
      }, { listen: ['/ip4/127.0.0.1/tcp/0'], admin: '127.0.0.1:0', auditLog: `${id}.audit.log` }),
      ...extra
    }
  }
}

/** A `fedgate` process, with its output collected as it arrives. */
export class FedgateProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<number | null>
  private readonly waiters: Array<() => void> = []

  constructor (args: readonly string[]) {
    this.child = spawn(process.execPath, ['scripts/fedgate.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { this.stdout += chunk; this.notify() })
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; this.notify() })
    this.exited = new Promise(resolve => { this.child.on('close', code => { this.notify(); resolve(code) }) })
  }

  /** Resolves once stderr matches `pattern`; rejects if the process exits first. */
  async waitForStderr (pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.stderr)
      if (match !== null) return match
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`fedgate exited (${String(this.child.exitCode)}) before ${String(pattern)}; stderr: ${this.stderr}`)
      await new Promise<void>(resolve => this.waiters.push(resolve))
    }
  }

  /** Sends `signal` and resolves with the exit code. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    return this.exited
  }

  private notify (): void {
    for (const resolve of this.waiters.splice(0)) resolve()
  }
}

/** A command that should exit on its own but has not after this long is killed (its exit code is then null). */
const RUN_DEADLINE_MS = 30_000

/** Runs `fedgate ARGS` to completion. */
export async function fedgate (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const run = new FedgateProcess(args)
  const deadline = setTimeout(() => { run.child.kill('SIGKILL') }, RUN_DEADLINE_MS)
  const code = await run.exited
  clearTimeout(deadline)
  return { code, stdout: run.stdout, stderr: run.stderr }
}

/** Polls `check` until it returns a value (not undefined); the test runner's timeout bounds the wait. */
export async function eventually<T> (check: () => Promise<T | undefined>, intervalMs = 50): Promise<T> {
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
