import type { Connection, Stream } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'
import { roleClass, type Credential, type CredentialVerifier, type ReasonCode, type Roster } from '../../membership/index.ts'
import type { BanList } from '../net/bans.ts'
import type { Hello } from '../net/hello.ts'
import type { Frames } from '../sync/wire.ts'
import { ipOf } from '../net/ip.ts'
import { PendingHandshakes } from '../net/pending.ts'
import type { PeerManager, PeerManagerInit } from '../peers/peer-manager.ts'
import type { RosterUpdate } from '../roster-source.ts'
import type { GateLog, GateMetrics } from '../telemetry.ts'
import type { Direction, FederationEvents } from '../types.ts'
import { judgeCredential, type Handshake } from './admission.ts'
import { Admitted } from './admitted.ts'
import { Bye, BYE_PROTOCOL } from './bye.ts'
import { Enforcement } from './enforcement.ts'
import { MemberNodes } from './member-nodes.ts'
import { Outsiders } from './outsiders.ts'
import { Refusals } from './refusals.ts'
import { Renewal, RENEW_PROTOCOL } from './renewal.ts'
import { ResetNotices, RESET_NOTICE_PROTOCOL } from './reset-notice.ts'
import { Slots, type Slot } from './slots.ts'
import { StreamGuard } from './stream-guard.ts'

/** A reservation waits this long, beyond the handshake deadline, for its connection to open. */
const RESERVATION_GRACE_MS = 5_000

/**
 * Roster propagation as the gate drives it (RosterSync implements it): a peer's claimed epoch on
 * admission, forgetting a closed connection, announcing accepted epochs, serving the protocol.
 */
export interface EpochExchange {
  readonly protocol: string
  readonly maxInboundStreams: number
  serve (stream: Stream, connection: Connection, memberId: string): Promise<void>
  want (epoch: number, connection: Connection, memberId: string): void
  forget (connection: Connection): void
  announce (connections: () => Connection[]): void
  stop (): void
  /** Answers a pull made during a handshake: the stored epochs after `after`. */
  sendEpochs (frames: Frames, after: number, signal?: AbortSignal): Promise<void>
  /** Receives the answer to a pull made during a handshake, offering each epoch to the store. */
  fetchEpochs (frames: Frames, source: string, signal?: AbortSignal): Promise<'progress' | 'failed' | 'refused'>
  /** Whether a handshake with a peer at `key` may fetch epochs before its verdict. */
  mayCatchUp (key: string): boolean
  /** Runs a handshake catch-up, penalising `key` when it does not deliver. */
  catchUp (key: string, run: () => Promise<'progress' | 'failed' | 'refused'>): Promise<void>
}

/** What fedgate's libp2p pieces (encrypter, gater, service) share; not part of the public API. */
export interface GateInternals {
  readonly refusals: Refusals
  readonly pending: PendingHandshakes
  readonly slots: Slots<Handshake>
  readonly admitted: Admitted
  readonly guard: StreamGuard
  readonly notices: ResetNotices
  readonly bye: Bye
  readonly renewal: Renewal
  readonly enforcement: Enforcement
  readonly memberNodes: MemberNodes
  /** fedgate's own protocols, open to every admitted peer whatever the policy says. */
  readonly internalProtocols: ReadonlySet<string>
  readonly sync: EpochExchange | undefined
  /** How the service makes the peer manager (it needs libp2p's dialler), or false for none. */
  readonly peerOptions: PeerManagerOptions | false
  /** The peer manager, once the service has made one. */
  peers: PeerManager | undefined
  readonly clock: () => number
  /** True while the gate's libp2p service runs; the gater refuses everyone otherwise. */
  running: boolean
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

export interface InternalsInit {
  readonly log: GateLog
  readonly metrics: GateMetrics
  readonly clock: () => number
  readonly bans: BanList | null
  readonly verifier: CredentialVerifier
  readonly sync: EpochExchange | undefined
  readonly events: TypedEventTarget<FederationEvents>
  readonly roster: () => Roster
  readonly credential: () => Credential
  readonly ownVerdict: (roster: Roster) => ReasonCode | null
  readonly peers: PeerManagerOptions | false
}

/** Peer manager settings a gate takes; the rest comes from libp2p when the service starts. */
export type PeerManagerOptions = Pick<PeerManagerInit, 'extra' | 'minBackoffMs' | 'maxBackoffMs' | 'dialTimeoutMs'>

/** Builds the parts of one gate and the admission step that joins them. */
export function assembleInternals (init: InternalsInit): GateInternals {
  const { log, metrics, clock, bans, verifier, sync, events, roster } = init
  const localRoles = (): readonly string[] => init.credential().roles
  const outsiders = new Outsiders()
  const memberNodes = new MemberNodes()
  const refusals = new Refusals({ log, metrics, clock, bans, outsiders, events })
  let bye: Bye | undefined
  const slots = new Slots<Handshake>({
    evict: slot => {
      const entry = slot.connectionId === undefined ? undefined : admitted.byId(slot.connectionId)
      if (entry !== undefined) void bye?.close(entry.connection, 'evicted')
    }
  })
  const admitted = new Admitted({ slots, refusals, metrics, log, clock, events })
  bye = new Bye({ admitted, refusals, metrics, clock })
  const internalProtocols: ReadonlySet<string> = new Set([BYE_PROTOCOL, RENEW_PROTOCOL, RESET_NOTICE_PROTOCOL, ...(sync === undefined ? [] : [sync.protocol])])
  const notices = new ResetNotices({ admitted, refusals, clock })
  const guard = new StreamGuard({ admitted, refusals, metrics, roster, internalProtocols, notify: (connection, protocol, code) => { notices.tell(connection, protocol, code) } })
  const enforcement = new Enforcement({ admitted, bye, guard, verifier, metrics, log, clock, events, roster, localRoles, ownCredentialCheck: init.ownVerdict })
  const renewal = new Renewal({ admitted, enforcement, guard, bye, metrics, log, events })
  const pending = new PendingHandshakes({ limits: () => roster().policy.limits, bans, clock, record: (refusal, opts) => { refusals.record(refusal, opts) } })
  const closer = bye
  const internals: GateInternals = {
    refusals,
    pending,
    slots,
    admitted,
    guard,
    notices,
    bye: closer,
    renewal,
    enforcement,
    memberNodes,
    internalProtocols,
    sync,
    peerOptions: init.peers,
    peers: undefined,
    clock,
    running: false,
    handshakeTimeoutMs: () => roster().policy.limits.handshakeTimeoutMs,
    hello: () => ({ federation: roster().federation, rosterEpoch: roster().epoch, credential: init.credential() }),
    admit: (hello, remotePeer, direction) => {
      const current = roster()
      const { credential } = hello
      const code = judgeCredential(credential, remotePeer, { roster: current, localRoles: localRoles(), now: clock(), verifier })
      if (code !== null) return code
      const { limits, slotShares, diversity } = current.policy
      const { role, rank } = roleClass(current.policy, credential.roles)
      const slot = slots.reserve({
        peerId: remotePeer,
        memberId: credential.memberId,
        org: current.member(credential.memberId)?.org,
        direction,
        memberLimit: current.memberLimit(credential.memberId),
        directionLimit: direction === 'inbound' ? limits.maxInboundConnections : limits.maxOutboundConnections,
        roleClass: role,
        rank,
        shareOf: cls => Math.floor(limits.maxInboundConnections * (slotShares.get(cls) ?? 0) / 100),
        reserved: internals.peers?.isReserved(credential.memberId) ?? false,
        diversity,
        lapseMs: limits.handshakeTimeoutMs + RESERVATION_GRACE_MS,
        details: { credential, rosterEpoch: hello.rosterEpoch }
      })
      if (typeof slot !== 'string') {
        outsiders.forget(remotePeer)
        memberNodes.remember(remotePeer, credential.memberId)
      }
      return slot
    },
    isOutsider: peerId => roster().revokedPeers.has(peerId) || outsiders.reasonFor(peerId, clock()) !== undefined,
    isBanned: remoteAddr => {
      const ip = ipOf(remoteAddr)
      return ip !== undefined && bans !== null && bans.isBanned(ip, clock())
    },
    rosterChanged: async update => {
      outsiders.clear()
      await enforcement.rosterChanged(update)
      internals.peers?.refresh()
      sync?.announce(() => [...admitted.all()].filter(e => e.closing === undefined).map(e => e.connection))
    },
    closeAll: async code => {
      await Promise.all([...admitted.all()].map(async entry => closer.close(entry.connection, code)))
    }
  }
  return internals
}
