import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import {
  CredentialVerifier, reasonFix, verifyCredential, type Credential, type ReasonCode, type Roster
} from '../../membership/index.ts'
import { logEvent } from '../events.ts'
import { BanList, type BanPolicy } from '../net/bans.ts'
import type { Hello } from '../net/hello.ts'
import { ipOf } from '../net/ip.ts'
import { PendingHandshakes } from '../net/pending.ts'
import type { NodeKey } from '../node-key.ts'
import type { RosterRefusal, RosterSource, RosterUpdate } from '../roster-source.ts'
import { quietLog, quietMetrics, type GateLog, type GateMetrics } from '../telemetry.ts'
import type { AdmittedPeer, Direction, FederationEvents, Refusal } from '../types.ts'
import { judgeCredential, type Handshake } from './admission.ts'
import { Admitted } from './admitted.ts'
import { Bye, BYE_PROTOCOL } from './bye.ts'
import { Enforcement } from './enforcement.ts'
import { Outsiders } from './outsiders.ts'
import { Refusals } from './refusals.ts'
import { Renewal, RENEW_PROTOCOL } from './renewal.ts'
import { Slots, type Slot } from './slots.ts'
import { StreamGuard } from './stream-guard.ts'

/** A reservation waits this long, beyond the handshake deadline, for its connection to open. */
const RESERVATION_GRACE_MS = 5_000

/** Thrown when this node's own credential does not verify under its roster. */
export class SelfCredentialError extends Error {
  override readonly name = 'SelfCredentialError'
  readonly code: ReasonCode

  constructor (code: ReasonCode, detail: string) {
    super(`own credential refused: ${code} (${detail}); fix: ${reasonFix(code)}`)
    this.code = code
  }
}

/**
 * Roster propagation as the gate drives it (RosterSync implements it): a peer's claimed epoch on
 * admission, forgetting a closed connection, announcing accepted epochs, serving the protocol.
 */
export interface EpochExchange {
  readonly protocol: string
  readonly maxInboundStreams: number
  serve (stream: Stream, connection: Connection): Promise<void>
  want (epoch: number, connection: Connection): void
  forget (connection: Connection): void
  announce (connections: () => Connection[]): void
  stop (): void
}

export interface FederationGateInit<Store extends RosterSource = RosterSource> {
  nodeKey: NodeKey
  credential: Credential
  /** The accepted roster: a RosterStore (files), a MemoryRosterStore, or another RosterSource. */
  store: Store
  /** @default a log that drops every line */
  log?: GateLog
  /** @default metrics that count nothing */
  metrics?: GateMetrics
  /** Repeated refusals that prove an IP's peers are not members earn growing bans. `false` turns bans off. */
  bans?: Partial<BanPolicy> | false
  /** @default Date.now */
  clock?: () => number
  /** Verifies credentials, with its cache of good signatures. @default a new CredentialVerifier */
  verifier?: CredentialVerifier
  /** Roster propagation between admitted peers (a RosterSync), or none. */
  sync?: EpochExchange
}

/** What fedgate's libp2p pieces (encrypter, gater, service) share; not part of the public API. */
export interface GateInternals {
  readonly refusals: Refusals
  readonly pending: PendingHandshakes
  readonly slots: Slots<Handshake>
  readonly admitted: Admitted
  readonly guard: StreamGuard
  readonly bye: Bye
  readonly renewal: Renewal
  readonly enforcement: Enforcement
  readonly sync: EpochExchange | undefined
  /** True while the gate's libp2p service runs; the gater refuses everyone otherwise. */
  running (): boolean
  setRunning (running: boolean): void
  handshakeTimeoutMs (): number
  hello (): Hello
  /** Judges a peer's hello and reserves its slot; the slot, or the reason code. */
  admit (hello: Handshake, remotePeer: string, direction: Direction): Slot<Handshake> | ReasonCode
  isOutsider (peerId: string): boolean
  /** True when the IP of `remoteAddr` is banned now. */
  isBanned (remoteAddr: string | undefined): boolean
  /** Applies a new roster epoch to live connections. */
  rosterChanged (update: RosterUpdate): Promise<void>
  /** Tells every peer why and closes every connection (the service's beforeStop). */
  closeAll (code: ReasonCode): Promise<void>
}

let internalsOfGate: (gate: FederationGate) => GateInternals

/** The shared state behind a gate, for fedgate's own libp2p pieces. */
export function internalsOf (gate: FederationGate): GateInternals {
  return internalsOfGate(gate)
}

/**
 * The admission state of one fedgate node: its identity and credential, the roster store, and the
 * parts that decide who gets in and stays in (slots, refusals, the admitted registry, the stream
 * guard, live enforcement, renewal, bye). Wire it into libp2p with `withFederation(gate)` (or the
 * pieces it returns); it then dispatches `admitted`, `refused`, `disconnected`, `stream-reset`,
 * `roster`, `roster-refused` and `credential-renewed`.
 */
export class FederationGate<Store extends RosterSource = RosterSource> extends TypedEventEmitter<FederationEvents> {
  readonly nodeKey: NodeKey
  readonly peerId: string
  readonly store: Store
  readonly log: GateLog
  readonly metrics: GateMetrics
  readonly bans: BanList | null
  readonly #internals: GateInternals
  readonly #clock: () => number
  readonly #verifier: CredentialVerifier
  #credential: Credential

  static {
    internalsOfGate = gate => gate.#internals
  }

  constructor (init: FederationGateInit<Store>) {
    super()
    this.nodeKey = init.nodeKey
    this.peerId = init.nodeKey.peerId
    this.store = init.store
    this.log = init.log ?? quietLog
    this.metrics = init.metrics ?? quietMetrics()
    this.#clock = init.clock ?? Date.now
    this.#verifier = init.verifier ?? new CredentialVerifier()
    this.bans = init.bans === false ? null : new BanList(init.bans)
    this.#credential = init.credential
    const own = this.ownVerdict()
    if (own !== null) throw new SelfCredentialError(own, `credential ${init.credential.fingerprint.slice(0, 16)} for ${init.credential.memberId} under roster epoch ${this.roster.epoch}`)
    this.#internals = this.#assemble(init.sync)
    this.metrics.rosterEpoch.set(this.roster.epoch)
    this.metrics.credentialExpiry(() => this.#credential.notAfterMs)
  }

  get roster (): Roster {
    return this.store.current
  }

  get credential (): Credential {
    return this.#credential
  }

  get localRoles (): readonly string[] {
    return this.#credential.roles
  }

  /** Null when this node's own credential verifies under the accepted roster now, else the reason code. */
  ownVerdict (credential: Credential = this.#credential, roster: Roster = this.roster): ReasonCode | null {
    return verifyCredential(credential, this.peerId, roster, this.#clock())
  }

  /** Admitted peers, one entry per peer (its oldest live connection). */
  peers (): AdmittedPeer[] {
    return this.#internals.admitted.peers()
  }

  /** The admitted peer behind a connection, if fedgate admitted it. */
  peerOf (connection: Connection): AdmittedPeer | undefined {
    return this.#internals.admitted.get(connection)?.peer
  }

  /** The admitted peer with this PeerId (its oldest live connection), if any. */
  peerById (peerId: PeerId | string): AdmittedPeer | undefined {
    let oldest: AdmittedPeer | undefined
    for (const { peer } of this.#internals.admitted.ofPeer(peerId.toString())) {
      if (oldest === undefined || peer.since < oldest.since) oldest = peer
    }
    return oldest
  }

  /** The roles an admitted PeerId holds now; empty when it is not admitted. */
  rolesOf (peerId: PeerId | string): readonly string[] {
    return this.peerById(peerId)?.roles ?? []
  }

  /** Recent refusals, oldest first. */
  refusals (): Refusal[] {
    return this.#internals.refusals.recent()
  }

  /** Handshakes in progress, node-wide and for the IPs holding the most. */
  pendingHandshakes (): ReturnType<PendingHandshakes['stats']> {
    return this.#internals.pending.stats()
  }

  /**
   * Applies a renewed credential for this node and pushes it to every connected peer. Refused (and
   * the current one kept) when it does not verify under the accepted roster.
   */
  async renew (credential: Credential): Promise<ReasonCode | null> {
    const code = this.ownVerdict(credential)
    if (code !== null) {
      this.metrics.credentialRenewals.inc({ direction: 'local', result: code })
      logEvent(this.log, 'warn', 'credential-renewal-refused', { reason: code, local: true, fix: reasonFix(code) }, `renewed credential refused: ${code}; keeping the current one`)
      return code
    }
    if (credential.fingerprint === this.#credential.fingerprint) return null
    this.#credential = credential
    this.metrics.credentialRenewals.inc({ direction: 'local', result: 'ok' })
    logEvent(this.log, 'info', 'credential-renewal', { reason: 'ok', local: true, peerId: this.peerId, memberId: credential.memberId, roles: credential.roles, notAfter: credential.document.notAfter, credential: credential.fingerprint }, 'local credential renewed')
    this.safeDispatchEvent('credential-renewed', { detail: { peerId: this.peerId, memberId: credential.memberId, roles: credential.roles, notAfter: credential.notAfterMs, local: true } })
    await this.#internals.renewal.push(credential)
    return null
  }

  #assemble (sync: EpochExchange | undefined): GateInternals {
    const log = this.log
    const metrics = this.metrics
    const clock = this.#clock
    const roster = (): Roster => this.roster
    const outsiders = new Outsiders()
    const refusals = new Refusals({ log, metrics, clock, bans: this.bans, outsiders, events: this })
    const slots = new Slots<Handshake>()
    const admitted = new Admitted({ slots, refusals, metrics, log, clock, events: this })
    const bye = new Bye({ admitted, refusals, metrics, clock })
    const guard = new StreamGuard({ admitted, refusals, metrics, roster, internalProtocols: new Set([BYE_PROTOCOL, RENEW_PROTOCOL, ...(sync === undefined ? [] : [sync.protocol])]) })
    const enforcement = new Enforcement({ admitted, bye, guard, verifier: this.#verifier, metrics, log, clock, events: this, roster, localRoles: () => this.localRoles, ownCredentialCheck: r => this.ownVerdict(this.#credential, r) })
    const renewal = new Renewal({ admitted, enforcement, guard, bye, metrics, log, events: this })
    const pending = new PendingHandshakes({ limits: () => this.roster.policy.limits, bans: this.bans, clock, record: refusal => { refusals.record(refusal) } })
    let running = false
    return {
      refusals,
      pending,
      slots,
      admitted,
      guard,
      bye,
      renewal,
      enforcement,
      sync,
      running: () => running,
      setRunning: value => { running = value },
      handshakeTimeoutMs: () => this.roster.policy.limits.handshakeTimeoutMs,
      hello: () => ({ federation: this.roster.federation, rosterEpoch: this.roster.epoch, credential: this.#credential }),
      admit: (hello, remotePeer, direction) => {
        const current = this.roster
        const code = judgeCredential(hello.credential, remotePeer, { roster: current, localRoles: this.localRoles, now: clock(), verifier: this.#verifier })
        if (code !== null) return code
        const limits = current.policy.limits
        const slot = slots.reserve({
          peerId: remotePeer,
          memberId: hello.credential.memberId,
          direction,
          memberLimit: current.memberLimit(hello.credential.memberId),
          directionLimit: direction === 'inbound' ? limits.maxInboundConnections : limits.maxOutboundConnections,
          lapseMs: limits.handshakeTimeoutMs + RESERVATION_GRACE_MS,
          details: { credential: hello.credential, rosterEpoch: hello.rosterEpoch }
        })
        if (typeof slot !== 'string') outsiders.forget(remotePeer)
        return slot
      },
      isOutsider: peerId => this.roster.revokedPeers.has(peerId) || outsiders.reasonFor(peerId, clock()) !== undefined,
      isBanned: remoteAddr => {
        const ip = ipOf(remoteAddr)
        return ip !== undefined && this.bans !== null && this.bans.isBanned(ip, clock())
      },
      rosterChanged: async update => {
        outsiders.clear()
        await enforcement.rosterChanged(update)
        sync?.announce(() => [...admitted.all()].filter(e => e.closing === undefined).map(e => e.connection))
      },
      closeAll: async code => {
        await Promise.all([...admitted.all()].map(async entry => bye.close(entry.connection, code)))
      }
    }
  }
}

/** Emits `roster-refused` and counts it; the store's own log line says why. */
export function rosterRefused (gate: FederationGate, refusal: RosterRefusal): void {
  gate.metrics.rosterUpdates.inc({ result: 'refused', reason: refusal.code })
  gate.safeDispatchEvent('roster-refused', { detail: refusal })
}
