import { readFile } from 'node:fs/promises'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import {
  Credential, readKeyFile, RosterStore, type NodeKey, type ReasonCode, type Roster, type StoreLogger
} from '../membership/index.ts'
import type { BanPolicy } from './bans.ts'
import { membershipEncrypter, outsiderEncrypter } from './encrypter.ts'
import { nodeNoiseCrypto } from './noise-crypto.ts'
import { FederationGate, streamGuard } from './gate.ts'
import { federationGater } from './gater.ts'
import { silentLog, type Logger } from './log.ts'
import { FedgateMetrics } from './metrics.ts'
import type { AdmittedPeer, FederationNodeView, FederationStreamHandler, Refusal } from './types.ts'

export interface FederationNodeInit {
  /** The node key, or the path of its key file (mode 0600). */
  key: NodeKey | string
  /** The credential, or the path of its file; a path is watched and renewals are pushed to peers. */
  credential: Credential | string
  /** An opened roster store, or where to open one. */
  roster: RosterStore | { dataDir: string, rosterFile?: string }
  /** Multiaddrs to listen on. @default [] */
  listen?: string[]
  log?: Logger
  metrics?: FedgateMetrics
  /** Include libp2p's own metrics in `metrics.registry`. @default true */
  libp2pMetrics?: boolean
  /** Repeated handshake failures from one IP earn growing bans; `false` turns them off. */
  bans?: Partial<BanPolicy> | false
  /**
   * Complete Noise with peers that speak plain libp2p Noise but not fedgate, so they are refused
   * with `no-credential`, logged with their PeerId, counted and banned. `false` leaves them to fail
   * protocol negotiation unrecorded. @default true
   */
  recordOutsiders?: boolean
  /** Inbound connections per second accepted from one IP before libp2p drops them. @default 64 */
  inboundConnectionThreshold?: number
  /** Extra libp2p options merged over fedgate's (not transports, encrypters, muxers or gater). */
  libp2p?: Pick<Libp2pOptions, 'connectionManager' | 'connectionMonitor' | 'services'>
  /** @default Date.now */
  clock?: () => number
  /** Exchange roster epochs with admitted peers (see RosterSync). @default true */
  rosterSync?: boolean
}

/**
 * A libp2p node whose every connection passed fedgate's membership exchange, whose protocol
 * handlers are reachable only in the roles the roster allows, and whose connections are re-checked
 * whenever the roster or a credential changes.
 */
export class FederationNode implements FederationNodeView {
  readonly libp2p: Libp2p
  readonly gate: FederationGate
  readonly store: RosterStore
  readonly log: Logger
  readonly metrics: FedgateMetrics
  private readonly ownsStore: boolean
  private stopped = false

  constructor (libp2p: Libp2p, gate: FederationGate, ownsStore: boolean) {
    this.libp2p = libp2p
    this.gate = gate
    this.store = gate.store
    this.log = gate.log
    this.metrics = gate.metrics
    this.ownsStore = ownsStore
  }

  get peerId (): string { return this.gate.peerId }
  get roster (): Roster { return this.gate.roster }
  get credential (): Credential { return this.gate.credential }
  get localRoles (): readonly string[] { return this.gate.localRoles }

  peers (): AdmittedPeer[] { return this.gate.peers() }
  refusals (): Refusal[] { return this.gate.refusals() }

  getMultiaddrs (): Multiaddr[] { return this.libp2p.getMultiaddrs() }

  /** Registers a chain protocol handler; only peers whose roles the roster allows on it reach it. */
  async handle (protocol: string, handler: FederationStreamHandler): Promise<void> {
    await this.libp2p.handle(protocol, this.gate.withPeer(handler))
  }

  async dial (addr: string | Multiaddr): Promise<Connection> {
    return this.libp2p.dial(typeof addr === 'string' ? multiaddr(addr) : addr)
  }

  async dialProtocol (addr: string | Multiaddr, protocol: string): Promise<Stream> {
    return this.libp2p.dialProtocol(typeof addr === 'string' ? multiaddr(addr) : addr, protocol)
  }

  /** Re-reads the roster and credential files (SIGHUP). */
  async reload (): Promise<void> {
    if (this.store.rosterFile !== undefined) await this.store.applyFile()
    await this.gate.reloadCredential()
  }

  /** Tells every peer why, closes every connection, stops libp2p and the roster watch. */
  async stop (code: ReasonCode = 'shutdown'): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.gate.shutdown(code)
    await this.libp2p.stop()
    if (this.ownsStore) await this.store.close()
    this.log.info({ event: 'stopped', reason: code }, 'fedgate node stopped')
  }
}

/**
 * Starts a fedgate node: loads the key, credential and roster, refuses to start if the node's own
 * credential does not verify under its roster (SelfCredentialError names the reason and the fix),
 * and starts libp2p with TCP, yamux, the membership encrypter, the gater and the stream guard.
 */
export async function createFederationNode (init: FederationNodeInit): Promise<FederationNode> {
  const log = init.log ?? silentLog()
  const nodeKey = typeof init.key === 'string' ? await readKeyFile(init.key, 'node') : init.key
  const credentialFile = typeof init.credential === 'string' ? init.credential : undefined
  const credential = typeof init.credential === 'string' ? await readCredentialFile(init.credential) : init.credential
  const ownsStore = !(init.roster instanceof RosterStore)
  const store = init.roster instanceof RosterStore
    ? init.roster
    : new RosterStore({ ...init.roster, log: log.child({ component: 'roster' }) as StoreLogger })
  if (ownsStore) await store.open()
  const metrics = init.metrics ?? new FedgateMetrics()
  let gate: FederationGate
  try {
    gate = new FederationGate({ nodeKey, credential, store, credentialFile, log, metrics, bans: init.bans, clock: init.clock, rosterSync: init.rosterSync })
  } catch (err) {
    if (ownsStore) await store.close()
    throw err
  }
  const limits = store.current.policy.limits
  const libp2p = await createLibp2p({
    privateKey: nodeKey.privateKey,
    addresses: { listen: init.listen ?? [] },
    transports: [tcp()],
    connectionEncrypters: [
      membershipEncrypter(gate, { noise: { crypto: nodeNoiseCrypto } }),
      ...(init.recordOutsiders === false ? [] : [outsiderEncrypter(gate, { noise: { crypto: nodeNoiseCrypto } })])
    ],
    streamMuxers: [yamux()],
    connectionGater: federationGater(gate),
    metrics: init.libp2pMetrics === false ? undefined : prometheusMetrics({ registry: metrics.registry, preserveExistingMetrics: true, collectDefaultMetrics: false }),
    ...init.libp2p,
    connectionManager: {
      inboundUpgradeTimeout: limits.handshakeTimeoutMs,
      maxIncomingPendingConnections: limits.maxPendingHandshakes,
      maxConnections: limits.maxInboundConnections + limits.maxOutboundConnections,
      inboundConnectionThreshold: init.inboundConnectionThreshold ?? 64,
      ...init.libp2p?.connectionManager
    },
    // The stream guard comes first, so it is in place before any other service registers a handler.
    services: { fedgate: streamGuard(gate), ...init.libp2p?.services },
    start: false
  })
  await gate.attach(libp2p)
  try {
    await libp2p.start()
  } catch (err) {
    await gate.shutdown()
    if (ownsStore) await store.close()
    throw err
  }
  if (ownsStore) store.watch()
  gate.watchCredential()
  const node = new FederationNode(libp2p, gate, ownsStore)
  log.info({ event: 'started', peerId: node.peerId, federation: store.current.federation, rosterEpoch: store.current.epoch, memberId: credential.memberId, roles: credential.roles, listen: node.getMultiaddrs().map(String) }, 'fedgate node started')
  return node
}

/** Reads and decodes a credential file; errors name the file. */
export async function readCredentialFile (file: string): Promise<Credential> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new CredentialFileError(file, `cannot read credential file (${(err as NodeJS.ErrnoException).code ?? String(err)}); issue one with fedgate credential issue`)
  }
  try {
    return Credential.decode(bytes)
  } catch (err) {
    throw new CredentialFileError(file, `${err instanceof Error ? err.message : String(err)}; issue a new one with fedgate credential issue`)
  }
}

/** Thrown when a credential file is missing or does not decode. */
export class CredentialFileError extends Error {
  override readonly name = 'CredentialFileError'
  readonly file: string

  constructor (file: string, message: string) {
    super(`${file}: ${message}`)
    this.file = file
  }
}
