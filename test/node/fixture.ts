import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createFederationBuilder, writeRosterFile } from '../../node/builder/index.ts'
import {
  createAuditLog, createFederationNode,
  type AdmittedPeer, type BanPolicy, type Credential, type FederationNode, type FederationNodeInit, type FederationStreamHandler, type Logger,
  type Member, type NodeKey, type Roster, type SigningKey, type FederationEvents, type RosterStore, type RosterStoreEvents
} from '../../node/index.ts'
/** The portable gate: the Node entry's FederationGate, and the browser entry's, are both one. */
import type { FederationGate } from '../../node/gate/gate.ts'

/**
 * A whole federation for end-to-end tests: three admins (threshold 2), one member key per member,
 * a signed roster, and real fedgate nodes on 127.0.0.1 that each read their own roster file.
 *
 *   const fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }] })
 *   const a = await fed.startNode('val-1')                    // node named after its member
 *   const b = await fed.startNode('val-1b', { member: 'val-1' })
 *   await fed.publishEpoch(r => revoke(r, { peer: b.peerId }))
 *   await fed.close()                                          // stops every node, removes the temp dir
 */

export const CONSENSUS = '/chain/consensus/1.0.0'
export const BRIDGE = '/chain/bridge/1.0.0'
export const HEADERS = '/chain/headers/1.0.0'

/** The protocol table every end-to-end test starts from (roster `policy.protocols`). */
export const STANDARD_PROTOCOLS: Readonly<Record<string, readonly string[]>> = {
  [CONSENSUS]: ['validator'],
  [BRIDGE]: ['validator', 'relayer'],
  [HEADERS]: ['validator', 'full-node', 'light-client']
}

export const LISTEN_LOCALHOST = '/ip4/127.0.0.1/tcp/0'
export const DEFAULT_FEDERATION = 'e2e-fed'
export const ADMIN_COUNT = 3
export const ADMIN_THRESHOLD = 2
/** Bound on every wait in these tests; generous, since a wait that succeeds returns at once. */
export const WAIT_MS = 10_000

export interface MemberSpec {
  id: string
  roles: readonly string[]
  org?: string
  addrs?: readonly string[]
  maxConnections?: number
}

export interface FederationInit {
  /** @default DEFAULT_FEDERATION */
  federation?: string
  /** Members of the genesis roster; each gets its own member key. */
  members: readonly MemberSpec[]
  /** roster `policy.protocols`. @default STANDARD_PROTOCOLS */
  protocols?: Readonly<Record<string, readonly string[]>>
  /** Further roster policy fields set at genesis, e.g. `{ limits: { handshakeTimeout: '1s' } }`. */
  policy?: Readonly<Record<string, unknown>>
}

export interface StartNodeOptions {
  /** The member the node belongs to. @default the node name */
  member?: string
  /** @default a credential issued now for the node's key with all the member's roles */
  credential?: Credential
  /** The roster the node starts from. @default the latest epoch the federation published */
  roster?: Roster
  /** @default false: every test peer dials from 127.0.0.1, so bans are opt-in */
  bans?: Partial<BanPolicy> | false
  log?: Logger
  clock?: () => number
  /** Extra libp2p options, e.g. services that register their own handlers. */
  libp2p?: FederationNodeInit['libp2p']
  /** @default true */
  rosterSync?: boolean
  /** The peer manager's settings, or false to turn it off. @default {} */
  peers?: FederationNodeInit['peers']
  /** A federation-wide pre-shared key (swarm key bytes). */
  psk?: Uint8Array
  /** Listen multiaddrs, e.g. a WebSocket one (`/ip4/127.0.0.1/tcp/0/ws`). @default [LISTEN_LOCALHOST] */
  listen?: readonly string[]
}

export interface IssueOptions {
  /** @default the node name */
  member?: string
  /** @default all the member's roles */
  roles?: readonly string[]
  /** @default now */
  notBefore?: number
  /** @default 24 h */
  ttlMs?: number
  /** The PeerId the credential binds. @default the PeerId of the node's key */
  peer?: string
  /** The roster that lists the member. @default the latest epoch */
  roster?: Roster
}

export interface PublishOptions {
  /** Nodes whose roster file receives the epoch. @default every running node */
  nodes?: readonly string[]
}

export interface Federation {
  readonly name: string
  readonly dir: string
  readonly admins: readonly SigningKey[]
  /** The latest epoch published (genesis at first). */
  readonly roster: Roster
  /** Running nodes by name. */
  readonly nodes: ReadonlyMap<string, FederationNode>
  /** The member key of `id`, made on first use (so members added later get one too). */
  memberKey (id: string): SigningKey
  /** A roster member entry for `spec`, with its member key, for `addMember`. */
  memberEntry (spec: MemberSpec): Member
  /** The node key of a node name, made on first use and kept for the federation's life. */
  nodeKey (name: string): Promise<NodeKey>
  /** Signs a draft roster with a threshold of admins. */
  sign (draft: Roster): Roster
  /** `edit(latest)` signed as the next epoch, without publishing it. */
  nextEpoch (edit: (roster: Roster) => Roster): Roster
  /** Makes the next epoch, writes it atomically to the roster file of each target node, and waits until each applied it. */
  publishEpoch (edit: (roster: Roster) => Roster, opts?: PublishOptions): Promise<Roster>
  /** A credential for node `name`, signed by its member key. */
  issue (name: string, opts?: IssueOptions): Promise<Credential>
  /** Starts a fedgate node listening on 127.0.0.1 with a fresh data directory. */
  startNode (name: string, opts?: StartNodeOptions): Promise<FederationNode>
  node (name: string): FederationNode
  stop (name: string): Promise<void>
  stopAll (): Promise<void>
  /** Stops every node and removes the temp directory. */
  close (): Promise<void>
}

export async function createFederation (init: FederationInit): Promise<Federation> {
  const name = init.federation ?? DEFAULT_FEDERATION
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-e2e-'))
  const builder = createFederationBuilder({
    federation: name,
    members: init.members,
    protocols: init.protocols ?? STANDARD_PROTOCOLS,
    policy: init.policy,
    admins: ADMIN_COUNT,
    threshold: ADMIN_THRESHOLD
  })
  const nodes = new Map<string, FederationNode>()
  const rosterFiles = new Map<string, string>()
  let starts = 0

  const fed: Federation = {
    name,
    dir,
    admins: builder.admins,
    get roster () { return builder.roster },
    nodes,
    memberKey: id => builder.memberKey(id),
    memberEntry: spec => builder.memberEntry(spec),
    nodeKey: async node => builder.nodeKey(node),
    sign: draft => builder.sign(draft),
    nextEpoch: edit => builder.nextEpoch(edit),
    async publishEpoch (edit, opts = {}) {
      const next = builder.commit(builder.nextEpoch(edit))
      const targets = opts.nodes ?? [...nodes.keys()]
      await Promise.all(targets.map(async target => {
        const node = fed.node(target)
        const file = rosterFiles.get(target)
        if (file === undefined) throw new Error(`node ${target} has no roster file`)
        const applied = rosterApplied(node, next.epoch)
        await writeRosterFile(file, next)
        await applied
      }))
      return next
    },
    async issue (node, opts = {}) {
      return builder.issue({
        member: opts.member ?? node,
        node,
        peer: opts.peer,
        roles: opts.roles,
        notBefore: opts.notBefore,
        ttlMs: opts.ttlMs,
        roster: opts.roster
      })
    },
    async startNode (node, opts = {}) {
      if (nodes.has(node)) throw new Error(`node ${node} is already running`)
      const home = join(dir, `${node}-${++starts}`)
      await mkdir(home, { recursive: true })
      const rosterFile = join(home, 'roster.json')
      await writeRosterFile(rosterFile, opts.roster ?? builder.roster)
      const started = await createFederationNode({
        key: await builder.nodeKey(node),
        credential: opts.credential ?? await fed.issue(node, { member: opts.member ?? node, roster: opts.roster }),
        roster: { dataDir: join(home, 'data'), rosterFile },
        listen: [...(opts.listen ?? [LISTEN_LOCALHOST])],
        bans: opts.bans ?? false,
        log: opts.log,
        clock: opts.clock,
        libp2p: opts.libp2p,
        rosterSync: opts.rosterSync,
        ...(opts.peers === undefined ? {} : { peers: opts.peers }),
        ...(opts.psk === undefined ? {} : { psk: opts.psk })
      })
      nodes.set(node, started)
      rosterFiles.set(node, rosterFile)
      return started
    },
    node (node) {
      const found = nodes.get(node)
      if (found === undefined) throw new Error(`no running node ${node}`)
      return found
    },
    async stop (node) {
      const found = nodes.get(node)
      nodes.delete(node)
      rosterFiles.delete(node)
      await found?.stop()
    },
    async stopAll () {
      await Promise.all([...nodes.keys()].map(async node => fed.stop(node)))
    },
    async close () {
      await fed.stopAll()
      await rm(dir, { recursive: true, force: true })
    }
  }
  return fed
}

/** Resolves when `node` accepts roster `epoch`; rejects when it refuses a roster meanwhile. */
async function rosterApplied (node: FederationNode, epoch: number): Promise<void> {
  const refused = waitFor(node.gate, 'roster-refused')
  const applied = waitFor(node.gate, 'roster', update => update.epoch >= epoch)
  try {
    await Promise.race([applied, refused.then(refusal => {
      throw new Error(`node ${node.peerId} refused roster epoch ${epoch}: ${refusal.code} (${refusal.message})`)
    })])
  } finally {
    refused.cancel()
    applied.cancel()
  }
}

/** The node's first listen address (it includes /p2p/<PeerId>). */
export function addrOf (node: { getMultiaddrs (): Multiaddr[] }): Multiaddr {
  const addr = node.getMultiaddrs()[0]
  if (addr === undefined) throw new Error('node has no listen address')
  return addr
}

/** A wait that can be called off (its timer and listener are removed; it then never settles). */
export type Waiting<T> = Promise<T> & { cancel (): void }

export type DetailOf<E, K extends keyof E> = E[K] extends CustomEvent<infer D> ? D : never

/**
 * Resolves with the detail of the first `event` dispatched by `target` that satisfies `predicate`;
 * rejects after `timeoutMs` naming the event it waited for.
 */
export function waitFor<K extends keyof FederationEvents & string> (target: FederationGate, event: K, predicate?: (detail: DetailOf<FederationEvents, K>) => boolean, timeoutMs?: number): Waiting<DetailOf<FederationEvents, K>>
export function waitFor<K extends keyof RosterStoreEvents & string> (target: RosterStore, event: K, predicate?: (detail: DetailOf<RosterStoreEvents, K>) => boolean, timeoutMs?: number): Waiting<DetailOf<RosterStoreEvents, K>>
export function waitFor (target: EventTarget, event: string, predicate: (detail: unknown) => boolean = () => true, timeoutMs = WAIT_MS): Waiting<unknown> {
  let done = (): void => {}
  const promise = new Promise<unknown>((resolve, reject) => {
    const listener = (evt: Event): void => {
      const detail = (evt as CustomEvent<unknown>).detail
      try {
        if (!predicate(detail)) return
        done()
        resolve(detail)
      } catch (err) {
        done()
        reject(err)
      }
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no '${event}' event matched within ${timeoutMs} ms`))
    }, timeoutMs)
    done = () => {
      clearTimeout(timer)
      target.removeEventListener(event, listener)
    }
    target.addEventListener(event, listener)
  })
  return Object.assign(promise, { cancel: () => { done() } })
}

/** Polls `check` until it returns true; rejects after `timeoutMs` with `what` in the message. */
export async function eventually (check: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** Sum of a Prometheus metric's samples whose labels include `labels` (0 when none). */
export async function metricValue (node: FederationNode, name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
  const metric = node.metrics.registry.getSingleMetric(name)
  if (metric === undefined) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  return values
    .filter(v => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0)
}

export interface HandlerCall {
  readonly protocol: string
  readonly peer: AdmittedPeer
}

/** An echo handler that records every invocation: the proof a protocol handler was, or was never, reached. */
export function recordingEcho (): { handler: FederationStreamHandler, calls: HandlerCall[] } {
  const calls: HandlerCall[] = []
  const handler: FederationStreamHandler = async (stream, _connection, peer) => {
    calls.push({ protocol: stream.protocol ?? '', peer })
    const lp = lpStream(stream)
    await lp.write((await lp.read()).subarray())
    await stream.close()
  }
  return { handler, calls }
}

/** Sends one length-prefixed message on `stream` and returns the reply. */
export async function echo (stream: Stream, message: Uint8Array): Promise<Uint8Array> {
  const lp = lpStream(stream)
  await lp.write(message, { signal: AbortSignal.timeout(WAIT_MS) })
  const reply = await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })
  await stream.close()
  return Uint8Array.from(reply.subarray())
}

/** An audit log whose JSON lines are kept in memory, for asserting on logged events. */
export function captureLog (): { log: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const log = createAuditLog({ stream: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } })
  return { log, lines }
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection (promise: Promise<unknown>, what = 'operation'): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error(`${what}: expected a rejection, it resolved`)
}
