import type { Connection, Libp2pEvents, Startable } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { TypedEventTarget } from 'main-event'
import { logEvent } from '../events.ts'
import type { RosterRefusal, RosterUpdate } from '../roster-source.ts'
import { BYE_PROTOCOL } from './bye.ts'
import { internalsOf, rosterRefused, type FederationGate } from './gate.ts'
import { PeerManager } from '../peers/peer-manager.ts'
import { PolicyCheck } from './policy-check.ts'
import { WidenedPeers, type Rejoin } from './rejoin.ts'
import type { Disconnect } from '../types.ts'
import { RENEW_PROTOCOL } from './renewal.ts'
import { RESET_NOTICE_PROTOCOL } from './reset-notice.ts'

/** Reset notices a peer may have open at once on one connection. */
const RESET_NOTICE_MAX_STREAMS = 4
import type { GuardableRegistrar } from './stream-guard.ts'

/** The libp2p components the fedgate service uses. */
export interface FederationServiceComponents {
  registrar: Pick<Registrar, 'handle' | 'unhandle'> & Partial<GuardableRegistrar> & Partial<Pick<Registrar, 'getProtocols'>>
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: Pick<ConnectionManager, 'openConnection'>
}

export interface FederationServiceInit {
  /**
   * What to do when a roster epoch gives protocols back on a peer's existing connection: `true`
   * re-runs identify on it (the libp2p service named `identify`), so gossipsub, kad-dht and other
   * topologies re-add the peer; a function does that job instead; `false` only dispatches
   * `protocols-widened`. @default true
   */
  rejoin?: boolean | Rejoin
}

/** fedgate's libp2p service: it has no API of its own; the gate is the API. */
export interface FederationService extends Startable {
  readonly [Symbol.toStringTag]: string
}

/**
 * The libp2p service that runs a gate inside a node: it hooks the stream guard into the registrar
 * at construction (before any other service registers a handler), registers fedgate's protocols,
 * tracks connections as they open and close, applies roster epochs to live connections, and before
 * the node stops tells every peer why its connection closes. A registrar without the hooked shape
 * stops the node from being created (UnguardableRegistrarError).
 */
export function federationService (gate: FederationGate, init: FederationServiceInit = {}): (components: FederationServiceComponents) => FederationService {
  return (components) => {
    const internals = internalsOf(gate)
    const { admitted, guard, bye, renewal, enforcement, sync, notices } = internals
    guard.install(components.registrar)
    const { registrar } = components
    const policyCheck = new PolicyCheck({
      roster: () => gate.roster,
      localRoles: () => gate.localRoles,
      registered: () => registrar.getProtocols?.() ?? [],
      internalProtocols: internals.internalProtocols,
      log: gate.log,
      events: gate
    })
    const widened = new WidenedPeers({
      admitted,
      events: gate,
      log: gate.log,
      localRoles: () => gate.localRoles,
      registered: () => registrar.getProtocols?.() ?? [],
      internalProtocols: internals.internalProtocols,
      rejoin: () => init.rejoin === false ? undefined : typeof init.rejoin === 'function' ? init.rejoin : identifyRejoin(components)
    })
    // A handler registered once the node runs is checked as it comes.
    const handle = registrar.handle.bind(registrar)
    registrar.handle = async (protocol, handler, options) => {
      await handle(protocol, handler, options)
      if (internals.running) policyCheck.run('handle', [protocol])
    }
    const peers = internals.peerOptions === false
      ? undefined
      : new PeerManager({
        ...internals.peerOptions,
        roster: () => gate.roster,
        self: () => ({ memberId: gate.credential.memberId, roles: gate.localRoles }),
        memberOf: connection => admitted.get(connection)?.peer.memberId,
        connectedTo: ({ memberId, peerId }) => memberId !== undefined ? admitted.hasMember(memberId) : peerId !== undefined && admitted.ofPeer(peerId).size > 0,
        dial: async (addr, signal) => components.connectionManager.openConnection(addr, { signal }),
        log: gate.log,
        clock: internals.clock
      })
    internals.peers = peers
    const onDisconnected = (evt: CustomEvent<Disconnect>): void => { peers?.disconnected(evt.detail) }
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const entry = admitted.open(evt.detail)
      if (entry === undefined) return
      enforcement.scheduleExpiry(entry)
      // A roster epoch may have landed between the membership exchange and this moment.
      const code = enforcement.recheck(entry.peer.credential, entry.peer.peerId)
      if (code !== null) void bye.close(entry.connection, code)
      else sync?.want(entry.peer.rosterEpoch, entry.connection, entry.peer.memberId)
    }
    const onClose = (evt: CustomEvent<Connection>): void => {
      admitted.close(evt.detail)
      sync?.forget(evt.detail)
    }
    const onRoster = (evt: CustomEvent<RosterUpdate>): void => {
      internals.rosterChanged(evt.detail)
        .then(() => {
          policyCheck.run('roster')
          widened.rosterChanged(evt.detail)
        })
        .catch(err => { logEvent(gate.log, 'error', 'enforcement-error', { err: String(err) }, 'live enforcement failed') })
    }
    const onRosterRefused = (evt: CustomEvent<RosterRefusal>): void => { rosterRefused(gate, evt.detail) }
    components.events.addEventListener('connection:open', onOpen)
    components.events.addEventListener('connection:close', onClose)
    return {
      [Symbol.toStringTag]: '@fedgate/federation',
      async start () {
        await components.registrar.handle(RENEW_PROTOCOL, async (stream, connection) => renewal.receive(stream, connection))
        await components.registrar.handle(BYE_PROTOCOL, async (stream, connection) => bye.receive(stream, connection))
        await components.registrar.handle(RESET_NOTICE_PROTOCOL, async (stream, connection) => notices.receive(stream, connection), { maxInboundStreams: RESET_NOTICE_MAX_STREAMS })
        if (sync !== undefined) {
          await components.registrar.handle(sync.protocol, async (stream, connection) => {
            const memberId = admitted.get(connection)?.peer.memberId
            if (memberId === undefined) stream.abort(new Error('fedgate: no-credential'))
            else await sync.serve(stream, connection, memberId)
          }, { maxInboundStreams: sync.maxInboundStreams })
        }
        gate.store.addEventListener('roster', onRoster)
        gate.store.addEventListener('refused', onRosterRefused)
        gate.addEventListener('disconnected', onDisconnected)
        internals.running = true
      },
      afterStart () {
        // Every service has registered its handlers by now.
        policyCheck.run('start')
        // Dial once libp2p's connection manager and transports run.
        peers?.start()
      },
      async beforeStop () {
        internals.running = false
        peers?.stop()
        gate.removeEventListener('disconnected', onDisconnected)
        gate.store.removeEventListener('roster', onRoster)
        gate.store.removeEventListener('refused', onRosterRefused)
        sync?.stop()
        await internals.closeAll('shutdown')
      },
      async stop () {
        components.events.removeEventListener('connection:open', onOpen)
        components.events.removeEventListener('connection:close', onClose)
        for (const protocol of [RENEW_PROTOCOL, BYE_PROTOCOL, RESET_NOTICE_PROTOCOL, ...(sync === undefined ? [] : [sync.protocol])]) await components.registrar.unhandle(protocol)
      }
    }
  }
}

/** identify, run again on a connection, when the node has libp2p's identify service under its usual name. */
function identifyRejoin (components: FederationServiceComponents): Rejoin | undefined {
  let service: unknown
  try {
    // libp2p's components throw for a service they do not hold.
    service = (components as unknown as Record<string, unknown>).identify
  } catch {
    return undefined
  }
  if (typeof service !== 'object' || service === null || !('identify' in service) || typeof service.identify !== 'function') return undefined
  const identify = service.identify.bind(service) as Rejoin
  return async connection => identify(connection)
}
