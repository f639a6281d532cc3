import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { Connection, Libp2p, Stream, StreamHandlerOptions } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { CredentialVerifier, type Credential, type ReasonCode, type Roster } from '../membership/index.ts'
import { logEvent } from './events.ts'
import { CredentialFileError, readCredentialFile, watchCredentialFile } from './files/credential-file.ts'
import { readKeyFile } from './files/key-file.ts'
import { RosterStore, type StoreLogger, type TrustRoot } from './files/roster-store.ts'
import type { FileWatch } from './files/watch.ts'
import { FederationGate } from './gate/node-gate.ts'
import type { PeerManagerOptions } from './gate/internals.ts'
import { silentLog, type Logger } from './log.ts'
import { FedgateMetrics } from './metrics.ts'
import type { BanPolicy } from './net/bans.ts'
import { resettableWebSockets } from './net/websockets.ts'
import type { NodeKey } from './node-key.ts'
import { RosterSync } from './sync/roster-sync.ts'
import type { AdmittedPeer, FederationNodeView, FederationStreamHandler, Refusal } from './types.ts'
import { withFederation, type WithFederationInit } from './with-federation.ts'

export interface FederationNodeInit extends WithFederationInit {
  /** The node key, or the path of its key file (mode 0600). */
  key: NodeKey | string
  /** The credential, or the path of its file; a path is watched and renewals are pushed to peers. */
  credential: Credential | string
  /** An opened roster store, or where to open one. */
  roster: RosterStore | { dataDir: string, rosterFile?: string, trustRoot?: TrustRoot }
  /** Multiaddrs to listen on: TCP (`/ip4/…/tcp/N`) and WebSocket (`/ip4/…/tcp/N/ws`). @default [] */
  listen?: string[]
  log?: Logger
  metrics?: FedgateMetrics
  /** Include libp2p's own metrics in `metrics.registry`. @default true */
  libp2pMetrics?: boolean
  /** Repeated refusals that prove an IP's peers are not members earn growing bans; `false` turns them off. */
  bans?: Partial<BanPolicy> | false
  /** Extra libp2p options merged over fedgate's (not transports, encrypters, muxers or gater). */
  libp2p?: Pick<Libp2pOptions, 'connectionManager' | 'connectionMonitor' | 'services'>
  /** @default Date.now */
  clock?: () => number
  /** Exchange roster epochs with admitted peers (see RosterSync). @default true */
  rosterSync?: boolean
  /** The peer manager's settings (extra addresses to keep connected), or false to turn it off. @default {} */
  peers?: PeerManagerOptions | false
}

/**
 * A libp2p node whose every connection passed fedgate's membership exchange, whose protocol
 * handlers are reachable only in the roles the roster allows, and whose connections are re-checked
 * whenever the roster or a credential changes.
 */
export class FederationNode implements FederationNodeView {
  readonly libp2p: Libp2p
  readonly gate: FederationGate<RosterStore>
  readonly store: RosterStore
  readonly log: Logger
  readonly metrics: FedgateMetrics
  readonly credentialFile: string | undefined
  private readonly ownsStore: boolean
  private readonly credentialWatch: FileWatch | undefined
  private stopped = false

  constructor (libp2p: Libp2p, gate: FederationGate<RosterStore>, opts: { ownsStore: boolean, credentialFile?: string, credentialWatch?: FileWatch }) {
    this.libp2p = libp2p
    this.gate = gate
    this.store = gate.store
    this.log = gate.log
    this.metrics = gate.metrics
    this.ownsStore = opts.ownsStore
    this.credentialFile = opts.credentialFile
    this.credentialWatch = opts.credentialWatch
  }

  get peerId (): string { return this.gate.peerId }
  get roster (): Roster { return this.gate.roster }
  get credential (): Credential { return this.gate.credential }
  get localRoles (): readonly string[] { return this.gate.localRoles }

  peers (): AdmittedPeer[] { return this.gate.peers() }
  refusals (): Refusal[] { return this.gate.refusals() }

  getMultiaddrs (): Multiaddr[] { return this.libp2p.getMultiaddrs() }

  /** Registers a chain protocol handler; only peers whose roles the roster allows on it reach it. */
  async handle (protocol: string, handler: FederationStreamHandler, options?: StreamHandlerOptions): Promise<void> {
    await this.libp2p.handle(protocol, async (stream, connection) => {
      const peer = this.gate.peerOf(connection)
      // The guard lets only admitted peers through; a connection that closed meanwhile is dropped.
      if (peer === undefined) {
        stream.abort(new Error('fedgate: connection-closed'))
        return
      }
      await handler(stream, connection, peer)
    }, options)
  }

  async unhandle (protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
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
    if (this.credentialFile !== undefined) await renewFromFile(this.gate, this.credentialFile)
  }

  /** Tells every peer why (`shutdown`), closes every connection, stops libp2p and the file watches. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.credentialWatch?.close()
    await this.libp2p.stop()
    if (this.ownsStore) await this.store.close()
    logEvent(this.log, 'info', 'stopped', { reason: 'shutdown' }, 'fedgate node stopped')
  }
}

/**
 * Starts a fedgate node: loads the key, credential and roster, refuses to start if the node's own
 * credential does not verify under its roster (SelfCredentialError names the reason and the fix),
 * and starts libp2p with TCP and WebSockets, yamux and `withFederation(gate)`: browser light clients
 * reach the node on its `/ws` addresses through the same gate as TCP peers.
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
  // Nothing reaches the data directory until the key, the credential and libp2p have all passed.
  if (ownsStore) await store.open({ deferWrites: true })
  const metrics = init.metrics ?? new FedgateMetrics()
  let gate: FederationGate<RosterStore>
  try {
    gate = new FederationGate({
      nodeKey,
      credential,
      store,
      log,
      metrics,
      bans: init.bans,
      clock: init.clock,
      verifier: new CredentialVerifier(),
      sync: init.rosterSync === false ? undefined : new RosterSync(store, log, { metrics, clock: init.clock }),
      peers: init.peers ?? {}
    })
  } catch (err) {
    if (ownsStore) await store.close()
    throw err
  }
  const federation = withFederation(gate, init)
  let libp2p: Libp2p | undefined
  try {
    libp2p = await createLibp2p({
      ...federation,
      addresses: { listen: init.listen ?? [] },
      transports: [tcp(), resettableWebSockets()],
      streamMuxers: [yamux()],
      metrics: init.libp2pMetrics === false ? undefined : prometheusMetrics({ registry: metrics.registry, preserveExistingMetrics: true, collectDefaultMetrics: false }),
      connectionMonitor: init.libp2p?.connectionMonitor,
      peerStore: federation.peerStore,
      connectionManager: { ...federation.connectionManager, ...init.libp2p?.connectionManager },
      // fedgate's service comes first, so the guard is in place before any other service registers a handler.
      services: { ...federation.services, ...init.libp2p?.services }
    })
    if (ownsStore) await store.commit()
  } catch (err) {
    await libp2p?.stop()
    if (ownsStore) await store.close()
    throw err
  }
  if (ownsStore) store.watch()
  const credentialWatch = credentialFile === undefined
    ? undefined
    : watchCredentialFile(credentialFile, renewed => { void gate.renew(renewed) }, err => { credentialFileRefused(gate, err) })
  const node = new FederationNode(libp2p, gate, { ownsStore, credentialFile, credentialWatch })
  logEvent(log, 'info', 'started', { peerId: node.peerId, federation: store.current.federation, rosterEpoch: store.current.epoch, memberId: credential.memberId, roles: credential.roles, listen: node.getMultiaddrs().map(String) }, 'fedgate node started')
  return node
}

/** Re-reads a credential file and applies it as a renewal; returns the refusal, if any. */
export async function renewFromFile (gate: FederationGate, file: string): Promise<ReasonCode | null> {
  try {
    return await gate.renew(await readCredentialFile(file))
  } catch (err) {
    return credentialFileRefused(gate, err)
  }
}

function credentialFileRefused (gate: FederationGate, err: unknown): ReasonCode {
  const code = err instanceof CredentialFileError ? err.code : 'malformed'
  logEvent(gate.log, 'warn', 'credential-renewal-refused', { reason: code, local: true, detail: err instanceof Error ? err.message : String(err) }, 'credential file cannot be used; keeping the current credential')
  return code
}
