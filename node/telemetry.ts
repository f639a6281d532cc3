/**
 * What the gate logs to and counts with. On Node, a pino logger and FedgateMetrics (prom-client)
 * implement these; in a browser, where neither runs, a gate without them uses the quiet ones below.
 */

type Labels<L extends string> = Partial<Record<L, string | number>>

/** The logger the gate writes its structured lines to (a pino Logger fits). */
export interface GateLog {
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export interface GateCounter<L extends string> {
  inc (labels: Labels<L>): void
}

/** The counters, gauges and histogram the gate updates (FedgateMetrics implements them with prom-client). */
export interface GateMetrics {
  readonly handshakes: GateCounter<'direction' | 'result' | 'reason'>
  readonly admittedPeers: GateCounter<'role'> & { dec (labels: Labels<'role'>): void }
  readonly rosterEpoch: { set (value: number): void }
  readonly rosterUpdates: GateCounter<'result' | 'reason'>
  readonly streamResets: GateCounter<'reason' | 'protocol'>
  readonly disconnects: GateCounter<'reason'>
  readonly credentialRenewals: GateCounter<'direction' | 'result'>
  readonly revocationLatency: { observe (seconds: number): void }
  readonly rosterSyncPulls: GateCounter<'result'>
  /** Where the credential expiry gauge reads the node's credential's notAfter. */
  credentialExpiry (notAfterMs: () => number): void
  /** Where the slot, reserved-peer, ban and pending gauges read the gate's state. */
  observe (views: GateViews): void
}

/** The gate state the gauges read, at every scrape. */
export interface GateViews {
  slots (): { inbound: { held: number }, outbound: { held: number }, inboundByClass: Record<string, { held: number }> }
  reserved (): ReadonlyArray<{ memberId: string | undefined, addrs: readonly string[], connected: boolean }>
  bannedIps (): number
  pendingHandshakes (): number
}

const ignore = (): void => {}

/** A log that drops every line. */
export const quietLog: GateLog = Object.freeze({ info: ignore, warn: ignore, error: ignore })

/** Metrics that count nothing. */
export function quietMetrics (): GateMetrics {
  const counter = { inc: ignore }
  return {
    handshakes: counter,
    admittedPeers: { inc: ignore, dec: ignore },
    rosterEpoch: { set: ignore },
    rosterUpdates: counter,
    streamResets: counter,
    disconnects: counter,
    credentialRenewals: counter,
    revocationLatency: { observe: ignore },
    rosterSyncPulls: counter,
    credentialExpiry: ignore,
    observe: ignore
  }
}
