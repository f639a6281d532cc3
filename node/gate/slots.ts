import type { ReasonCode } from '../../membership/index.ts'
import { unrefTimer } from '../timers.ts'
import type { Direction } from '../types.ts'

/** Connections one node key may hold at once (simultaneous dials in both directions need two). */
export const MAX_CONNECTIONS_PER_PEER = 4
/** Reservations held at once, node-wide: a bound on memory whatever the limits say. */
export const MAX_RESERVATIONS = 4096

export interface SlotRequest<T> {
  readonly peerId: string
  readonly memberId: string
  readonly org: string | undefined
  readonly direction: Direction
  /** Distinct node keys of the member this node admits at once. */
  readonly memberLimit: number
  /** Distinct node keys this node admits at once in `direction`. */
  readonly directionLimit: number
  /** The peer's role class and its rank (0 = most important). */
  readonly roleClass: string
  readonly rank: number
  /** Inbound slots guaranteed to each role class. */
  readonly shareOf: (roleClass: string) => number
  /** A peer this node must reach (its reserved set): it always finds room, and is never evicted. */
  readonly reserved: boolean
  /** Eviction never leaves fewer distinct members and organisations connected than this. */
  readonly diversity: { readonly members: number, readonly orgs: number }
  /** A reservation not bound to a connection within this lapses. */
  readonly lapseMs: number
  /** What the holder brings (the handshake's credential), handed back when the slot is taken. */
  readonly details: T
}

/** A held slot: a reservation made during the handshake, then bound to the connection it opened. */
export interface Slot<T> {
  readonly peerId: string
  readonly memberId: string
  readonly direction: Direction
  readonly roleClass: string
  readonly reserved: boolean
  readonly details: T
  /** The connection it is bound to, once bound. */
  readonly connectionId: string | undefined
  /** Frees the slot; a second call does nothing. */
  release (): void
}

interface HeldSlot<T> extends Slot<T> {
  readonly org: string | undefined
  readonly rank: number
  readonly at: number
  connectionId: string | undefined
  released: boolean
  evicting: boolean
  timer: NodeJS.Timeout | undefined
}

export interface SlotsInit<T> {
  /** Closes the connection bound to `slot` to make room (reason `evicted`). */
  readonly evict: (slot: Slot<T>) => void
}

/**
 * Connection slots, counted by distinct node key: per member (its maxConnections), per direction
 * (the roster's inbound and outbound limits), per role class (inbound), and per key. A slot is
 * reserved when the membership exchange admits a peer, so a burst of parallel handshakes cannot
 * exceed a limit, and bound when the connection opens. Every count is kept up to date, so a
 * decision costs the same at 10 or 10,000 connections; only a full node looks for an eviction.
 *
 * When inbound capacity is full, a newcomer takes the place of a bound, non-reserved connection:
 * a reserved newcomer (one this node must reach) of the least important class; a newcomer whose
 * class holds less than its share, of a class over its share; a newcomer of a more important class,
 * of a less important class over its share. The most recent such connection goes first, and never
 * one whose loss would leave fewer distinct members or organisations than the diversity floor.
 */
export class Slots<T> {
  private readonly init: SlotsInit<T>
  private readonly byMember = new Map<string, Map<string, number>>()
  private readonly byDirection: Record<Direction, Map<string, number>> = { inbound: new Map(), outbound: new Map() }
  private readonly byClass = new Map<string, Map<string, number>>()
  private readonly byOrg = new Map<string, Map<string, number>>()
  private readonly byPeer = new Map<string, number>()
  private readonly reservations = new Map<string, Array<HeldSlot<T>>>()
  private readonly boundInbound = new Set<HeldSlot<T>>()
  private reservationCount = 0
  private sequence = 0

  constructor (init: SlotsInit<T>) {
    this.init = init
  }

  /** Reserves a slot for `request`, or says which limit refuses it. */
  reserve (request: SlotRequest<T>): Slot<T> | ReasonCode {
    const { peerId, memberId, direction } = request
    if (othersIn(this.byMember.get(memberId), peerId) >= request.memberLimit) return 'member-over-limit'
    if ((this.byPeer.get(peerId) ?? 0) >= MAX_CONNECTIONS_PER_PEER) return 'connection-limit'
    if (this.reservationCount >= MAX_RESERVATIONS) return 'connection-limit'
    if (othersIn(this.byDirection[direction], peerId) >= request.directionLimit) {
      const victim = direction === 'inbound' ? this.victimFor(request) : undefined
      if (victim === undefined) return 'connection-limit'
      victim.evicting = true
      this.init.evict(victim)
    }
    const slot: HeldSlot<T> = {
      peerId,
      memberId,
      org: request.org,
      direction,
      roleClass: request.roleClass,
      rank: request.rank,
      reserved: request.reserved,
      details: request.details,
      at: this.sequence++,
      connectionId: undefined,
      released: false,
      evicting: false,
      timer: undefined,
      release: () => { this.free(slot) }
    }
    slot.timer = setTimeout(slot.release, request.lapseMs)
    unrefTimer(slot.timer)
    this.count(slot, 1)
    const list = this.reservations.get(peerId)
    if (list === undefined) this.reservations.set(peerId, [slot])
    else list.push(slot)
    this.reservationCount++
    return slot
  }

  /** Binds the newest reservation of `peerId` in `direction` to the connection that opened. */
  take (peerId: string, direction: Direction, connectionId: string): Slot<T> | undefined {
    const list = this.reservations.get(peerId)
    if (list === undefined) return undefined
    const index = list.findLastIndex(s => s.direction === direction)
    if (index < 0) return undefined
    const [slot] = list.splice(index, 1)
    if (list.length === 0) this.reservations.delete(peerId)
    if (slot === undefined) return undefined
    this.reservationCount--
    clearTimeout(slot.timer)
    slot.connectionId = connectionId
    if (slot.direction === 'inbound') this.boundInbound.add(slot)
    return slot
  }

  /** True while `peerId` holds a reservation not yet bound to a connection. */
  hasReservation (peerId: string): boolean {
    return this.reservations.has(peerId)
  }

  /** Distinct node keys holding slots in `direction`. */
  held (direction: Direction): number {
    return this.byDirection[direction].size
  }

  /** Distinct inbound node keys per role class. */
  heldByClass (): Map<string, number> {
    return new Map([...this.byClass].map(([roleClass, peers]) => [roleClass, peers.size]))
  }

  /** The connection to give up for `request`, or undefined when fairness keeps them all. */
  private victimFor (request: SlotRequest<T>): HeldSlot<T> | undefined {
    const classHeld = (roleClass: string): number => this.byClass.get(roleClass)?.size ?? 0
    const underShare = othersIn(this.byClass.get(request.roleClass), request.peerId) < request.shareOf(request.roleClass)
    let victim: HeldSlot<T> | undefined
    for (const slot of this.boundInbound) {
      if (slot.reserved || slot.evicting || slot.peerId === request.peerId) continue
      const overShare = classHeld(slot.roleClass) > request.shareOf(slot.roleClass)
      const eligible = request.reserved || (underShare && overShare) || (slot.rank > request.rank && overShare)
      if (!eligible) continue
      if (victim === undefined || slot.rank > victim.rank || (slot.rank === victim.rank && slot.at > victim.at)) victim = slot
    }
    if (victim === undefined || !this.keepsDiversity(victim, request.diversity)) return undefined
    return victim
  }

  /** Whether dropping `slot` keeps at least the diversity floor of distinct members and organisations. */
  private keepsDiversity (slot: HeldSlot<T>, floor: { readonly members: number, readonly orgs: number }): boolean {
    const membersAfter = this.byMember.size - ((this.byMember.get(slot.memberId)?.size ?? 0) <= 1 ? 1 : 0)
    const orgsAfter = this.byOrg.size - (slot.org !== undefined && (this.byOrg.get(slot.org)?.size ?? 0) <= 1 ? 1 : 0)
    return membersAfter >= Math.min(floor.members, this.byMember.size) && orgsAfter >= Math.min(floor.orgs, this.byOrg.size)
  }

  private free (slot: HeldSlot<T>): void {
    if (slot.released) return
    slot.released = true
    clearTimeout(slot.timer)
    if (slot.connectionId === undefined) {
      const list = this.reservations.get(slot.peerId)
      const index = list?.indexOf(slot) ?? -1
      if (list !== undefined && index >= 0) {
        list.splice(index, 1)
        this.reservationCount--
        if (list.length === 0) this.reservations.delete(slot.peerId)
      }
    }
    this.boundInbound.delete(slot)
    this.count(slot, -1)
  }

  private count (slot: HeldSlot<T>, delta: 1 | -1): void {
    addIn(this.byMember, slot.memberId, slot.peerId, delta)
    if (slot.org !== undefined) addIn(this.byOrg, slot.org, slot.peerId, delta)
    if (slot.direction === 'inbound') addIn(this.byClass, slot.roleClass, slot.peerId, delta)
    add(this.byDirection[slot.direction], slot.peerId, delta)
    add(this.byPeer, slot.peerId, delta)
  }
}

/** Distinct keys in `counts` other than `peerId`. */
function othersIn (counts: Map<string, number> | undefined, peerId: string): number {
  if (counts === undefined) return 0
  return counts.size - (counts.has(peerId) ? 1 : 0)
}

function add (counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta
  if (next <= 0) counts.delete(key)
  else counts.set(key, next)
}

function addIn (groups: Map<string, Map<string, number>>, group: string, key: string, delta: number): void {
  let counts = groups.get(group)
  if (counts === undefined) {
    counts = new Map()
    groups.set(group, counts)
  }
  add(counts, key, delta)
  if (counts.size === 0) groups.delete(group)
}
