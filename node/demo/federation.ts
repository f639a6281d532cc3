import { mkdir } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import type { Credential, Roster, SigningKey } from '../../membership/index.ts'
import {
  createFederationBuilder, FederationKeys, nodeConfig, writeCredentialFile, writeKeyFile, writeNodeConfig, writeRosterFile,
  type FederationBuilder
} from '../builder/index.ts'

export const DEMO_FEDERATION = 'demo-fed'
export const CONSENSUS = '/chain/consensus/1.0.0'
export const BRIDGE = '/chain/bridge/1.0.0'
export const HEADERS = '/chain/headers/1.0.0'

/** The demo roster's `policy.protocols`: which roles may open each chain protocol. */
export const DEMO_PROTOCOLS: ReadonlyArray<readonly [string, readonly string[]]> = [
  [CONSENSUS, ['validator']],
  [BRIDGE, ['validator', 'relayer']],
  [HEADERS, ['validator', 'full-node', 'light-client']]
]

export const ADMIN_COUNT = 3
export const ADMIN_THRESHOLD = 2
const HOUR_MS = 3_600_000
const CREDENTIAL_TTL_MS = 24 * HOUR_MS
/** The expired node's credential was valid from 3 h ago until 1 h ago. */
const EXPIRED_NOT_BEFORE_AGO_MS = 3 * HOUR_MS
const EXPIRED_TTL_MS = 2 * HOUR_MS
/** The expired node's clock lags by this much, so that it starts at all (fedgate refuses to start on an expired credential). */
const EXPIRED_CLOCK_LAG_MS = 2 * HOUR_MS
const LOCALHOST = '127.0.0.1'

interface NodePlan {
  readonly name: string
  readonly memberId: string
  readonly org: string
  readonly role: string
  /** Nodes this node dials (its config's reserved peers). */
  readonly dial: readonly string[]
  /** Whether the roster lists this node's address for its member. */
  readonly listed: boolean
}

/** The federation's nodes: one per member, named after it. */
const MEMBER_NODES: readonly NodePlan[] = [
  { name: 'val-1', memberId: 'val-1', org: 'acme', role: 'validator', dial: [], listed: true },
  { name: 'val-2', memberId: 'val-2', org: 'birch', role: 'validator', dial: ['val-1'], listed: true },
  { name: 'val-3', memberId: 'val-3', org: 'cedar', role: 'validator', dial: ['val-1', 'val-2'], listed: true },
  { name: 'val-4', memberId: 'val-4', org: 'delta', role: 'validator', dial: ['val-1', 'val-2', 'val-3'], listed: true },
  { name: 'relayer-1', memberId: 'relayer-1', org: 'bridgeco', role: 'relayer', dial: ['val-1'], listed: false },
  { name: 'full-1', memberId: 'full-1', org: 'explorer', role: 'full-node', dial: ['val-3', 'val-4'], listed: true },
  { name: 'light-1', memberId: 'light-1', org: 'wallet', role: 'light-client', dial: ['full-1'], listed: false }
]

/** A retired node of member full-1 whose credential was never renewed. */
const EXPIRED_NODE: NodePlan = { name: 'full-1-old', memberId: 'full-1', org: 'explorer', role: 'full-node', dial: ['val-1'], listed: false }
/** An outsider that made its own admin and member keys and claims to be val-2. */
const FORGER_NODE: NodePlan = { name: 'forger', memberId: 'val-2', org: 'forger', role: 'validator', dial: ['val-1'], listed: false }

/** One node's files: what `fedgate node start --config` reads. */
export interface DemoNodeFiles {
  readonly name: string
  readonly memberId: string
  readonly roles: readonly string[]
  readonly peerId: string
  /** The node config file (`fedgate node start --config`). */
  readonly config: string
  /** The roster file the node watches. */
  readonly rosterFile: string
  /** Where it listens: /ip4/127.0.0.1/tcp/PORT. */
  readonly listen: string
  /** Its dial address: the listen address with /p2p/PEERID. */
  readonly addr: string
  /** The admin endpoint its config names (HOST:PORT), for `fedgate node status --admin` when started by hand. */
  readonly admin: string
  readonly dial: readonly string[]
  readonly credential: Credential
  /** How far this node's clock lags real time (only the expired node's does). */
  readonly clockLagMs: number
}

export interface DemoAdmin {
  readonly name: string
  readonly file: string
  readonly key: SigningKey
}

/** The generated federation: every file lives under `dir`. */
export interface DemoFederation {
  readonly dir: string
  readonly federation: string
  /** The federation's current roster file, as the admins keep it. */
  readonly rosterFile: string
  readonly admins: readonly DemoAdmin[]
  readonly roster: Roster
  /** The member nodes, one per member. */
  readonly members: readonly DemoNodeFiles[]
  /** A node of member full-1 holding a credential that expired an hour ago. */
  readonly expired: DemoNodeFiles
  /** A node outside the federation with a forged credential for val-2 (its own roster, admins and member key). */
  readonly forger: DemoNodeFiles
  /** Counts of what was written. */
  readonly files: { readonly keys: number, readonly credentials: number, readonly configs: number, readonly rosters: number }
}

/**
 * Generates the demo federation into `dir` (which must exist and be empty): admin, member and node
 * keys (mode 0600), the genesis roster signed by a threshold of admins, credentials, and one node
 * config per node in the daemon's format, with listen and admin addresses on free 127.0.0.1 ports.
 */
export async function createDemoFederation (dir: string, now: number = Date.now()): Promise<DemoFederation> {
  const nodesDir = join(dir, 'nodes')
  const outsidersDir = join(dir, 'outsiders')
  await Promise.all(['admins', 'members', 'nodes', 'outsiders'].map(async d => mkdir(join(dir, d), { recursive: true })))

  const keys = new FederationKeys()
  const plans = [...MEMBER_NODES, EXPIRED_NODE, FORGER_NODE]
  const ports = await freePorts(plans.length * 2)
  const nodeKeys = await Promise.all(plans.map(async plan => keys.nodeKey(plan.name)))
  const placed = plans.map((plan, i) => {
    const key = nodeKeys[i]
    const port = ports[2 * i]
    const adminPort = ports[2 * i + 1]
    if (key === undefined || port === undefined || adminPort === undefined) throw new Error('demo: a node key or port is missing')
    const base = plan === FORGER_NODE ? outsidersDir : nodesDir
    const listen = `/ip4/${LOCALHOST}/tcp/${port}`
    return { plan, key, base, listen, admin: `${LOCALHOST}:${adminPort}`, addr: `${listen}/p2p/${key.peerId}` }
  })
  const addrOf = (name: string): string => {
    const found = placed.find(p => p.plan.name === name)
    if (found === undefined) throw new Error(`demo: no node ${name}`)
    return found.addr
  }

  const fed = createFederationBuilder({
    federation: DEMO_FEDERATION,
    keys,
    admins: ADMIN_COUNT,
    threshold: ADMIN_THRESHOLD,
    now,
    members: MEMBER_NODES.map(plan => ({ id: plan.memberId, org: plan.org, roles: [plan.role], ...(plan.listed ? { addrs: [addrOf(plan.name)] } : {}) })),
    protocols: Object.fromEntries(DEMO_PROTOCOLS)
  })
  const admins = fed.admins.map((key, i) => ({ name: `admin-${i + 1}`, file: join(dir, 'admins', `admin-${i + 1}.key`), key }))
  for (const admin of admins) await writeKeyFile(admin.file, admin.key)
  for (const plan of MEMBER_NODES) await writeKeyFile(join(dir, 'members', `${plan.memberId}.key`), fed.memberKey(plan.memberId))
  const rosterFile = join(dir, 'roster.json')
  await writeRosterFile(rosterFile, fed.roster)
  const forger = await forgedFederation(join(outsidersDir, FORGER_NODE.name), now)

  const nodes: DemoNodeFiles[] = []
  for (const { plan, key, base, listen, admin, addr } of placed) {
    const nodeDir = join(base, plan.name)
    await mkdir(nodeDir, { recursive: true })
    const files = { key: join(nodeDir, 'node.key'), credential: join(nodeDir, 'credential.json'), roster: join(nodeDir, 'roster.json'), dataDir: join(nodeDir, 'data') }
    await writeKeyFile(files.key, key)
    const issuer = plan === FORGER_NODE ? forger : fed
    const credential = await issuer.issue({
      member: plan.memberId,
      peer: key.peerId,
      roles: [plan.role],
      ...(plan === EXPIRED_NODE
        ? { notBefore: now - EXPIRED_NOT_BEFORE_AGO_MS, ttlMs: EXPIRED_TTL_MS }
        : { notBefore: now, ttlMs: CREDENTIAL_TTL_MS })
    })
    await writeCredentialFile(files.credential, credential)
    await writeRosterFile(files.roster, issuer.roster)
    const config = join(base, `${plan.name}.json`)
    await writeNodeConfig(config, nodeConfig(config, files, { listen: [listen], admin, dial: plan.dial.map(addrOf) }))
    nodes.push({
      name: plan.name,
      memberId: plan.memberId,
      roles: [plan.role],
      peerId: key.peerId,
      config,
      rosterFile: files.roster,
      listen,
      addr,
      admin,
      dial: plan.dial,
      credential,
      clockLagMs: plan === EXPIRED_NODE ? EXPIRED_CLOCK_LAG_MS : 0
    })
  }

  const byName = (name: string): DemoNodeFiles => {
    const node = nodes.find(n => n.name === name)
    if (node === undefined) throw new Error(`demo: no node ${name}`)
    return node
  }
  return {
    dir,
    federation: DEMO_FEDERATION,
    rosterFile,
    admins,
    roster: fed.roster,
    members: MEMBER_NODES.map(p => byName(p.name)),
    expired: byName(EXPIRED_NODE.name),
    forger: byName(FORGER_NODE.name),
    files: { keys: admins.length + MEMBER_NODES.length + FORGER_KEY_FILES + nodes.length, credentials: nodes.length, configs: nodes.length, rosters: 1 + nodes.length }
  }
}

/** The forger's admin and member key files. */
const FORGER_KEY_FILES = 2

/**
 * The forger's own federation: same name, its own admin, and a member "val-2" under a key it
 * made. Its credential verifies under this roster, and nowhere else.
 */
async function forgedFederation (dir: string, now: number): Promise<FederationBuilder> {
  await mkdir(dir, { recursive: true })
  const forger = createFederationBuilder({
    federation: DEMO_FEDERATION,
    admins: 1,
    threshold: 1,
    now,
    members: [{ id: FORGER_NODE.memberId, org: FORGER_NODE.org, roles: [FORGER_NODE.role] }]
  })
  const [admin] = forger.admins
  if (admin === undefined) throw new Error('demo: the forger has no admin key')
  await writeKeyFile(join(dir, 'admin.key'), admin)
  await writeKeyFile(join(dir, 'member.key'), forger.memberKey(FORGER_NODE.memberId))
  return forger
}

/** `count` distinct TCP ports that are free on 127.0.0.1 right now (the OS picks them). */
export async function freePorts (count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, LOCALHOST, () => { resolve() })
      })
    }
    return servers.map(s => (s.address() as AddressInfo).port)
  } finally {
    await Promise.all(servers.map(async s => new Promise<void>(resolve => { s.close(() => { resolve() }) })))
  }
}

/** Replaces the admins' copy of the roster (temp file, fsync, rename). */
export async function saveRoster (fed: DemoFederation, roster: Roster): Promise<void> {
  await writeRosterFile(fed.rosterFile, roster)
}

/** Replaces every given node's roster file with `roster`, each atomically, as an operator's deploy step would. */
export async function writeNodeRosters (nodes: readonly DemoNodeFiles[], roster: Roster): Promise<void> {
  await Promise.all(nodes.map(async n => writeRosterFile(n.rosterFile, roster)))
}
