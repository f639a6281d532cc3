import type { ReasonCode } from '../../membership/index.ts'

/** Refusals that prove the peer itself is not a member (not a limit, a clock or a policy of ours). */
export const OUTSIDER_REFUSALS: ReadonlySet<ReasonCode> = new Set([
  'no-credential', 'unknown-member', 'revoked', 'bad-signature', 'peer-mismatch', 'federation-mismatch', 'malformed', 'handshake-timeout', 'banned'
])

/** Of those, the ones that hold until the roster changes: such a peer is not dialled again meanwhile. */
export const PERSISTENT_REFUSALS: ReadonlySet<ReasonCode> = new Set(['unknown-member', 'revoked', 'bad-signature', 'federation-mismatch', 'no-credential'])

const MAX_REMEMBERED = 4096
/** How long a verdict is remembered: a stock node may later run fedgate, a key may be re-issued. */
const REMEMBER_MS = 10 * 60_000
/**
 * `no-credential` is remembered briefly: the encryption protocol is negotiated in the clear, so an
 * on-path attacker could make a member look like a stock node, and must not make it shunned for long.
 */
const NO_CREDENTIAL_REMEMBER_MS = 60_000

/**
 * PeerIds this node found not to be members, remembered (size-capped, time-limited, forgotten on
 * every roster change) so that it does not dial them again: a DHT or identify handing out a
 * non-member's address costs one refused dial, not one per lookup.
 */
export class Outsiders {
  private readonly peers = new Map<string, { code: ReasonCode, until: number }>()

  remember (peerId: string, code: ReasonCode, now: number): void {
    this.peers.delete(peerId)
    if (this.peers.size >= MAX_REMEMBERED) {
      const oldest = this.peers.keys().next().value
      if (oldest !== undefined) this.peers.delete(oldest)
    }
    this.peers.set(peerId, { code, until: now + (code === 'no-credential' ? NO_CREDENTIAL_REMEMBER_MS : REMEMBER_MS) })
  }

  /** The refusal remembered for `peerId`, if it still holds. */
  reasonFor (peerId: string, now: number): ReasonCode | undefined {
    const entry = this.peers.get(peerId)
    if (entry === undefined) return undefined
    if (entry.until > now) return entry.code
    this.peers.delete(peerId)
    return undefined
  }

  forget (peerId: string): void {
    this.peers.delete(peerId)
  }

  clear (): void {
    this.peers.clear()
  }

  get size (): number {
    return this.peers.size
  }
}
