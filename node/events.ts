import type { GateLog } from './telemetry.ts'

/**
 * The one table of log event names. Every line fedgate writes carries one of these as `event`.
 * `audit: true` marks the audit trail (who was admitted, refused or dropped, and why, and what
 * changed the roster or a credential); the rest is operational. Adding a row here adds it to the
 * README table, which a test keeps in step.
 */
export const EVENTS = {
  'admission': { audit: true, meaning: 'a peer passed the membership exchange and its connection opened' },
  'refusal': { audit: true, meaning: 'a connection attempt was refused, by this node or by the peer, with the reason code' },
  'stream-reset': { audit: true, meaning: 'an inbound stream was reset before its handler, with the reason code; with by: remote, the peer reset a stream this node opened and said why (protocol and reason code)' },
  'disconnect': { audit: true, meaning: 'an admitted connection closed, with the reason code' },
  'ban': { audit: true, meaning: 'a remote address earned a temporary ban after repeated refusals that prove it is not a member' },
  'roster-accepted': { audit: true, meaning: 'a roster epoch was accepted and stored' },
  'roster-refused': { audit: true, meaning: 'a roster epoch was refused; the accepted one stays in force' },
  'roster-restored': { audit: true, meaning: 'the node resumed at the newest epoch stored in its data directory' },
  'roster-root-untrusted': { audit: true, meaning: 'stored epochs did not chain to the pinned trust root and were set aside' },
  'credential-renewal': { audit: true, meaning: 'a renewed credential was applied (this node\'s own, or a peer\'s)' },
  'credential-renewal-refused': { audit: true, meaning: 'a renewed credential was refused, with the reason code' },
  'own-credential-refused': { audit: true, meaning: 'this node\'s own credential no longer verifies under the accepted roster' },
  'tunnel-open': { audit: true, meaning: 'a tunnel opened: a local TCP connection carried over a libp2p stream to or from a member (sidecar expose and forward), with the member id and the service' },
  'tunnel-close': { audit: true, meaning: 'a tunnel closed, with the member id, the service, the bytes moved each way and the reason code' },
  'tunnel-refused': { audit: true, meaning: 'a tunnel could not open (unknown member, no reachable node, protocol not allowed, target unreachable, ...), with the reason code; a forward closes its local connection' },
  'roster-file-updated': { audit: false, meaning: 'the roster file was rewritten to an epoch accepted from elsewhere (publish, a peer), so it reads as the node runs' },
  'roster-file-not-updated': { audit: false, meaning: 'the roster file could not be rewritten to the accepted epoch (not writable, or not a roster); the epoch is in force and stored anyway' },
  'credential-issued': { audit: true, meaning: 'the renewal agent (fedgate credential renew) wrote a renewed credential for a node, with its fingerprint, the one it replaced and the next renewal time' },
  'credential-issue-failed': { audit: false, meaning: 'the renewal agent could not renew a credential (roster unreadable, member revoked, file not writable); it tries again' },
  'policy-warning': { audit: false, meaning: 'the roster leaves a protocol this node registered unusable: denied to every role the node accepts, or allowed while a protocol it depends on (identify, for gossipsub and kad-dht) is denied; at start, on every epoch and when a handler is registered, with the fix' },
  'protocols-widened': { audit: false, meaning: 'a roster epoch gave protocols back on a peer\'s existing connection; identify runs again on it so services such as gossipsub re-add the peer' },
  'credential-renewal-failed': { audit: false, meaning: 'a renewed credential could not be pushed to a peer' },
  'credential-watch-error': { audit: false, meaning: 'watching the credential file failed' },
  'roster-watch-error': { audit: false, meaning: 'watching or reading the roster file failed' },
  'roster-sync-failed': { audit: false, meaning: 'fetching roster epochs from a peer failed' },
  'enforcement-error': { audit: false, meaning: 'a re-check of admitted connections failed unexpectedly (a bug: please report it)' },
  'tunnel-request-failed': { audit: false, meaning: 'in HTTP mode, one request through a tunnel could not reach the target and was answered 502, with the reason code' },
  'reserved-dial': { audit: false, meaning: 'a reserved peer was dialled, with the result' },
  'waiting-for-credential': { audit: false, meaning: 'the node (started with waitForCredential) waits for a valid credential in its credential file, with the reason code of the one there; /healthz answers 503 meanwhile' },
  'started': { audit: false, meaning: 'the node started' },
  'stopped': { audit: false, meaning: 'the node stopped' },
  'reload': { audit: false, meaning: 'the node re-reads its roster and credential files (SIGHUP)' }
} as const satisfies Record<string, { audit: boolean, meaning: string }>

export type EventName = keyof typeof EVENTS

export type Level = 'info' | 'warn' | 'error'

/** Writes one structured line: `event`, then the fields, then a human message. */
export function logEvent (log: GateLog, level: Level, event: EventName, fields: Record<string, unknown>, message: string): void {
  log[level]({ event, ...fields }, message)
}
