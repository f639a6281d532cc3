import { yamux } from '@chainsafe/libp2p-yamux'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import type { Credential, Roster } from '../../membership/index.ts'
import { FederationGate } from '../gate/gate.ts'
import { MemoryRosterStore } from '../memory-roster-store.ts'
import { MembershipRefusedError, refusalOf } from '../net/refusal.ts'
import { resettableWebSockets } from '../net/websockets.ts'
import type { NodeKey } from '../node-key.ts'
import type { RosterSource, TrustRoot } from '../roster-source.ts'
import type { GateLog } from '../telemetry.ts'
import type { AdmittedPeer } from '../types.ts'
import { withFederation } from './with-federation.ts'

/** Largest reply `request` reads. */
export const MAX_REPLY_BYTES = 1024 * 1024

export interface LightClientInit {
  /** The light client's libp2p identity; its credential must name this key's PeerId. */
  nodeKey: NodeKey
  /** The credential its member issued for `nodeKey`. */
  credential: Credential
  /**
   * The roster: a RosterSource (e.g. a MemoryRosterStore the app keeps up to date), or the signed
   * epochs to start a MemoryRosterStore from, oldest first, starting at the trust root.
   */
  roster: RosterSource | ReadonlyArray<Roster | string>
  /** Refuse epochs that do not chain to this root (only with `roster` given as epochs). */
  trustRoot?: TrustRoot
  log?: GateLog
  /** @default Date.now */
  clock?: () => number
  /** Extra libp2p options merged over fedgate's. */
  libp2p?: Pick<Libp2pOptions, 'connectionManager' | 'connectionMonitor' | 'services'>
}

/**
 * A fedgate light client: a dial-only libp2p node on WebSockets behind a gate. It admits a full
 * node only after checking that node's credential and role against its own roster, exactly as the
 * full node checks the light client's.
 */
export class LightClient {
  readonly libp2p: Libp2p
  readonly gate: FederationGate

  constructor (libp2p: Libp2p, gate: FederationGate) {
    this.libp2p = libp2p
    this.gate = gate
  }

  get peerId (): string { return this.gate.peerId }

  /**
   * Connects to a full node and resolves with it as admitted (member, roles, credential). Rejects
   * with MembershipRefusedError when either side refused the other (`by` says which), and with
   * libp2p's error when the node could not be reached.
   */
  async connect (addr: string | Multiaddr, options: AbortOptions = {}): Promise<AdmittedPeer> {
    const target = typeof addr === 'string' ? multiaddr(addr) : addr
    let connection
    try {
      connection = await this.libp2p.dial(target, options)
    } catch (err) {
      throw this.refused(err, target)
    }
    const peer = this.gate.peerOf(connection)
    if (peer !== undefined) return peer
    // Admitted connections are registered as they open; one that is not was closed by a roster change meanwhile.
    const latest = this.gate.refusals().at(-1)
    throw new MembershipRefusedError(latest?.code ?? 'connection-closed', latest?.by ?? 'local', 'the connection closed as it opened')
  }

  /** Opens `protocol` to the node at `addr`, sends one length-prefixed message, and resolves with its reply. */
  async request (addr: string | Multiaddr, protocol: string, message: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array> {
    const target = typeof addr === 'string' ? multiaddr(addr) : addr
    let stream
    try {
      stream = await this.libp2p.dialProtocol(target, protocol, options)
    } catch (err) {
      throw this.refused(err, target)
    }
    const lp = lpStream(stream, { maxDataLength: MAX_REPLY_BYTES })
    await lp.write(message, options)
    const reply = await lp.read(options)
    await stream.close(options)
    return reply.subarray()
  }

  /**
   * fedgate's refusal in a dial error, as a MembershipRefusedError. The gater does not redial a peer
   * refused as a non-member for a while; that dial fails before any connection, and the refusal it
   * remembers is reported instead. Any other error as it is.
   */
  private refused (err: unknown, target: Multiaddr): unknown {
    const refusal = refusalOf(err)
    if (refusal !== undefined) return new MembershipRefusedError(refusal.code, refusal.by)
    const peerId = target.getComponents().findLast(c => c.name === 'p2p')?.value
    const earlier = peerId === undefined || !(err instanceof Error && err.name === 'DialDeniedError')
      ? undefined
      : this.gate.refusals().findLast(r => r.peerId === peerId)
    return earlier === undefined ? err : new MembershipRefusedError(earlier.code, earlier.by, 'refused earlier, so not dialled again for now')
  }

  /** Tells each full node why (`shutdown`) and stops. */
  async stop (): Promise<void> {
    await this.libp2p.stop()
  }
}

/**
 * Starts a light client. Throws SelfCredentialError when its own credential does not verify under
 * its roster, and RosterRefusedError when the epochs given do not form a valid chain.
 */
export async function createLightClient (init: LightClientInit): Promise<LightClient> {
  const store = isRosterSource(init.roster) ? init.roster : MemoryRosterStore.from(init.roster, { trustRoot: init.trustRoot })
  // A light client dials the full node it is given; it keeps no roster topology of its own.
  const gate = new FederationGate({ nodeKey: init.nodeKey, credential: init.credential, store, log: init.log, clock: init.clock, bans: false, peers: false })
  const federation = withFederation(gate)
  const libp2p = await createLibp2p({
    ...federation,
    transports: [resettableWebSockets()],
    streamMuxers: [yamux()],
    connectionMonitor: init.libp2p?.connectionMonitor,
    connectionManager: { ...federation.connectionManager, ...init.libp2p?.connectionManager },
    services: { ...federation.services, ...init.libp2p?.services }
  })
  return new LightClient(libp2p, gate)
}

function isRosterSource (roster: LightClientInit['roster']): roster is RosterSource {
  return !Array.isArray(roster)
}
