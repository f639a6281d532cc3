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
  readonly direction: Direction
  /** Distinct node keys of the member this node admits at once. */
  readonly memberLimit: number
  /** Distinct node keys this node admits at once in `direction`. */
  readonly directionLimit: number
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
  readonly details: T
  /** Frees the slot; a second call does nothing. */
  release (): void
}

interface HeldSlot<T> extends Slot<T> {
  bound: boolean
  released: boolean
  timer: NodeJS.Timeout | undefined
}

/**
 * Connection slots, counted by distinct node key: per member (its maxConnections), per direction
 * (the roster's inbound and outbound limits), and per key. A slot is reserved when the membership
 * exchange admits a peer, so a burst of parallel handshakes cannot exceed a limit, and bound when the
 * connection opens. Every count is kept up to date, so a decision costs the same at 10 or 10,000
 * connections.
 */
export class Slots<T> {
  private readonly byMember = new Map<string, Map<string, number>>()
  private readonly byDirection: Record<Direction, Map<string, number>> = { inbound: new Map(), outbound: new Map() }
  private readonly byPeer = new Map<string, number>()
  private readonly reservations = new Map<string, Array<HeldSlot<T>>>()
  private reservationCount = 0

  /** Reserves a slot for `request`, or says which limit refuses it. */
  reserve (request: SlotRequest<T>): Slot<T> | ReasonCode {
    const { peerId, memberId, direction } = request
    if (othersIn(this.byMember.get(memberId), peerId) >= request.memberLimit) return 'member-over-limit'
    if (othersIn(this.byDirection[direction], peerId) >= request.directionLimit) return 'connection-limit'
    if ((this.byPeer.get(peerId) ?? 0) >= MAX_CONNECTIONS_PER_PEER) return 'connection-limit'
    if (this.reservationCount >= MAX_RESERVATIONS) return 'connection-limit'
    const slot: HeldSlot<T> = {
      peerId,
      memberId,
      direction,
      details: request.details,
      bound: false,
      released: false,
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

  /** Binds the newest reservation of `peerId` in `direction` to a connection that opened. */
  take (peerId: string, direction: Direction): Slot<T> | undefined {
    const list = this.reservations.get(peerId)
    if (list === undefined) return undefined
    const index = list.findLastIndex(s => s.direction === direction)
    if (index < 0) return undefined
    const [slot] = list.splice(index, 1)
    if (list.length === 0) this.reservations.delete(peerId)
    if (slot === undefined) return undefined
    this.reservationCount--
    clearTimeout(slot.timer)
    slot.bound = true
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

  private free (slot: HeldSlot<T>): void {
    if (slot.released) return
    slot.released = true
    clearTimeout(slot.timer)
    if (!slot.bound) {
      const list = this.reservations.get(slot.peerId)
      const index = list?.indexOf(slot) ?? -1
      if (list !== undefined && index >= 0) {
        list.splice(index, 1)
        this.reservationCount--
        if (list.length === 0) this.reservations.delete(slot.peerId)
      }
    }
    this.count(slot, -1)
  }

  private count (slot: Slot<T>, delta: 1 | -1): void {
    let member = this.byMember.get(slot.memberId)
    if (member === undefined) {
      member = new Map()
      this.byMember.set(slot.memberId, member)
    }
    add(member, slot.peerId, delta)
    if (member.size === 0) this.byMember.delete(slot.memberId)
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
