import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Roster } from '../../membership/index.ts'
import {
  createFederationBuilder, FederationKeys, nodeConfig, writeCredentialFile, writeKeyFile, writeNodeConfig, writeRosterFile,
  type FederationBuilder, type ProtocolTable
} from '../builder/index.ts'

/** Every lab host runs its node on this port: each host has its own IP, so they do not collide. */
export const LAB_PORT = 4001

/** A member of a lab federation, and where it runs: a host IP (listed in the roster), or nowhere (a dialer only). */
export interface LabMemberSpec {
  readonly id: string
  readonly roles: readonly string[]
  readonly org?: string
  readonly ip?: string
  /** @default LAB_PORT */
  readonly port?: number
}

/** The files of one member's node, each node in its own folder with its own copy of the roster. */
export interface LabNodeFiles {
  readonly dir: string
  readonly key: string
  readonly credential: string
  readonly roster: string
  readonly dataDir: string
}

/**
 * A federation written to disk for processes on lab hosts: one folder per member holding its node
 * key, credential and its own roster file (hosts share no roster file: an epoch reaches a host over
 * the network or not at all), and the roster listing each member's host address.
 */
export class LabFederation {
  readonly dir: string
  readonly builder: FederationBuilder
  private readonly specs: ReadonlyMap<string, LabMemberSpec>
  private readonly peerIds: ReadonlyMap<string, string>

  private constructor (dir: string, builder: FederationBuilder, specs: Map<string, LabMemberSpec>, peerIds: Map<string, string>) {
    this.dir = dir
    this.builder = builder
    this.specs = specs
    this.peerIds = peerIds
  }

  static async create (dir: string, init: { federation: string, members: readonly LabMemberSpec[], protocols?: ProtocolTable, policy?: Readonly<Record<string, unknown>> }): Promise<LabFederation> {
    const keys = new FederationKeys()
    const peerIds = new Map<string, string>()
    for (const m of init.members) peerIds.set(m.id, (await keys.nodeKey(m.id)).peerId)
    const addr = (m: LabMemberSpec): string[] => m.ip === undefined ? [] : [`/ip4/${m.ip}/tcp/${m.port ?? LAB_PORT}/p2p/${peerIds.get(m.id) ?? ''}`]
    const builder = createFederationBuilder({
      federation: init.federation,
      keys,
      members: init.members.map(m => ({ id: m.id, roles: m.roles, ...(m.org === undefined ? {} : { org: m.org }), addrs: addr(m) })),
      protocols: init.protocols ?? {},
      policy: init.policy ?? {}
    })
    const fed = new LabFederation(dir, builder, new Map(init.members.map(m => [m.id, m])), peerIds)
    for (const m of init.members) {
      const files = fed.files(m.id)
      await mkdir(files.dir, { recursive: true })
      await writeKeyFile(files.key, await keys.nodeKey(m.id))
      await writeCredentialFile(files.credential, await builder.issue({ member: m.id }))
      await writeRosterFile(files.roster, builder.roster)
    }
    return fed
  }

  get roster (): Roster {
    return this.builder.roster
  }

  peerId (id: string): string {
    const peerId = this.peerIds.get(id)
    if (peerId === undefined) throw new Error(`no member ${id} in the lab federation`)
    return peerId
  }

  /** The roster address of a member's node. */
  addr (id: string): string {
    const spec = this.specs.get(id)
    if (spec?.ip === undefined) throw new Error(`member ${id} has no host address`)
    return `/ip4/${spec.ip}/tcp/${spec.port ?? LAB_PORT}/p2p/${this.peerId(id)}`
  }

  files (id: string): LabNodeFiles {
    const dir = join(this.dir, id)
    return { dir, key: join(dir, 'node.key'), credential: join(dir, 'credential.json'), roster: join(dir, 'roster.json'), dataDir: join(dir, 'data') }
  }

  /**
   * Writes the config of a member's daemon: it listens on its roster address, serves its admin
   * endpoint on its host IP (so the lab's side of the bridge reaches it), and dials `dial` too.
   */
  async writeDaemonConfig (id: string, dial: readonly string[] = []): Promise<{ file: string, dataDir: string }> {
    const spec = this.specs.get(id)
    if (spec?.ip === undefined) throw new Error(`member ${id} has no host address`)
    const files = this.files(id)
    const file = join(files.dir, 'config.json')
    await writeNodeConfig(file, nodeConfig(file, files, {
      listen: [`/ip4/${spec.ip}/tcp/${spec.port ?? LAB_PORT}`],
      admin: `${spec.ip}:0`,
      auditLog: 'audit.log',
      ...(dial.length === 0 ? {} : { dial })
    }))
    return { file, dataDir: files.dataDir }
  }

  /** Signs and commits the next epoch, written to `file` (not to any node's roster file). */
  async writeEpoch (file: string, edit: (roster: Roster) => Roster): Promise<Roster> {
    const next = this.builder.commit(this.builder.nextEpoch(edit))
    await writeRosterFile(file, next)
    return next
  }
}
