/**
 * The one table of reason codes. Every refusal, disconnect and stream reset carries exactly one of
 * these: in logs, metric labels, CLI output and on the wire. Adding a row here adds it everywhere
 * (tests loop over this table).
 */
export const REASONS = {
  'malformed': {
    stage: 'any',
    meaning: 'a roster, credential, hello or key does not match its format',
    fix: 'regenerate the object with the fedgate CLI; the error names the field that is wrong'
  },
  'federation-mismatch': {
    stage: 'credential',
    meaning: 'the credential or hello names another federation than the local roster',
    fix: 'issue the credential for the federation named in the roster (fedgate credential issue --roster)'
  },
  'unknown-member': {
    stage: 'credential',
    meaning: 'the member id in the credential is not in the local roster',
    fix: 'add the member with fedgate roster add-member, sign the new epoch and publish it'
  },
  'revoked': {
    stage: 'credential',
    meaning: 'the roster revokes the member, its PeerId or this credential',
    fix: 'the federation admins revoked it; issue a new credential only if the revocation was a mistake'
  },
  'peer-mismatch': {
    stage: 'credential',
    meaning: 'the credential names another node key than the one the peer proved in Noise',
    fix: 'issue a credential for this node key (fedgate credential issue --node-key FILE)'
  },
  'not-yet-valid': {
    stage: 'credential',
    meaning: 'the credential notBefore is in the future beyond the allowed clock skew',
    fix: 'check the clocks of both hosts (NTP) or issue the credential with an earlier start'
  },
  'expired': {
    stage: 'credential',
    meaning: 'the credential notAfter has passed beyond the allowed clock skew',
    fix: 'renew the credential with fedgate credential issue; running nodes pick up the new file'
  },
  'ttl-exceeded': {
    stage: 'credential',
    meaning: 'the credential is valid for longer than the roster policy credentialMaxTtl allows',
    fix: 'issue it with a shorter --ttl, at most policy.credentialMaxTtl'
  },
  'role-not-held': {
    stage: 'credential',
    meaning: 'the credential claims a role that the roster does not give the member',
    fix: 'issue the credential with a subset of the member roles, or change the roster'
  },
  'bad-signature': {
    stage: 'credential',
    meaning: 'the signature does not verify under the key the roster lists',
    fix: 'sign with the key listed for this member or admin; a forged object is refused for good'
  },
  'no-credential': {
    stage: 'handshake',
    meaning: 'the peer did not present a fedgate membership hello',
    fix: 'run the peer under fedgate with a credential issued by its member'
  },
  'version-mismatch': {
    stage: 'handshake',
    meaning: 'the peer speaks another version of the membership hello',
    fix: 'upgrade both nodes to the same fedgate major version'
  },
  'handshake-timeout': {
    stage: 'handshake',
    meaning: 'the peer did not complete the membership exchange before the deadline',
    fix: 'check the network path; a peer that stays silent after Noise is cut on purpose'
  },
  'role-not-accepted': {
    stage: 'policy',
    meaning: 'the local role does not accept the peer role (roster policy.accepts)',
    fix: 'connect to a node whose role accepts yours, or change policy.accepts in the roster'
  },
  'protocol-not-allowed': {
    stage: 'stream',
    meaning: 'the peer roles are not allowed on this protocol (roster policy.protocols, default deny)',
    fix: 'run fedgate roster allow --protocol ID --roles R, sign and publish the new epoch'
  },
  'member-over-limit': {
    stage: 'slots',
    meaning: 'the member already holds as many connections as its maxConnections allows',
    fix: 'close other nodes of the member, or raise maxConnections in the roster'
  },
  'connection-limit': {
    stage: 'slots',
    meaning: 'the node holds its maximum number of inbound or outbound connections',
    fix: 'raise policy.limits in the roster, or connect to another node'
  },
  'rate-limited': {
    stage: 'accept',
    meaning: 'the remote address holds too many unfinished handshakes, or did not start its handshake in time',
    fix: 'none needed for a member: it is admitted on its next dial; many from one address point at a flood or a broken client'
  },
  'evicted': {
    stage: 'slots',
    meaning: 'the node closed this connection to make room for a peer it must reach, or for a more important role class under its share',
    fix: 'none needed: the peer may reconnect; raise policy.limits.maxInboundConnections or adjust policy.slots if it happens often'
  },
  'banned': {
    stage: 'handshake',
    meaning: 'the remote address is temporarily banned after repeated refusals that prove its peers are not members; its plain-Noise dialers are turned away before any Noise work',
    fix: 'none needed for a member: fedgate dialers from a banned address are still admitted; otherwise wait for the ban to lapse and stop the failing peers'
  },
  'roster-stale': {
    stage: 'roster',
    meaning: 'the roster epoch is not newer than the accepted one',
    fix: 'edit the accepted roster (each edit yields the next epoch), sign it and publish it'
  },
  'threshold-not-met': {
    stage: 'roster',
    meaning: 'fewer valid admin signatures than the admin threshold of the accepted epoch',
    fix: 'collect more signatures by the admins of the epoch the node runs (fedgate roster sign --key ADMIN_KEY --previous FILE counts them); a node more than one epoch behind an admin change needs the epochs in between first (fedgate roster publish EPOCH_FILE… or a folder of them)'
  },
  'untrusted-root': {
    stage: 'roster',
    meaning: 'the roster chain does not start at the trust root pinned in the node config',
    fix: 'give the node a roster that chains to the pinned root, or correct trustRoot in the config (fedgate roster show prints both fingerprints)'
  },
  'storage-error': {
    stage: 'roster',
    meaning: 'the node could not store an accepted roster epoch in its data directory',
    fix: 'check free disk space and the permissions of the data directory; the last stored epoch stays in force'
  },
  'unreadable': {
    stage: 'roster',
    meaning: 'a roster or credential file could not be read (missing, a folder, no permission)',
    fix: 'check the path and the file permissions; the accepted roster and credential stay in force'
  },
  'member-mismatch': {
    stage: 'live',
    meaning: 'a renewed credential names another member than the one admitted or widens its roles, or a reserved peer answered as another member than the roster lists at its address',
    fix: 'renew a node with a credential of its own member (a node that changes member or gains roles reconnects); check the reserved address and the roster addrs'
  },
  'connection-closed': {
    stage: 'live',
    meaning: 'the peer or the network closed the connection without a fedgate reason',
    fix: 'none needed if the peer stopped; otherwise check the peer and the network path'
  },
  'shutdown': {
    stage: 'live',
    meaning: 'the node is stopping',
    fix: 'none needed; the node reconnects when it is back'
  },
  'target-unreachable': {
    stage: 'tunnel',
    meaning: 'the exposed service did not accept the TCP connection at its target address (refused, unreachable or timed out)',
    fix: 'start the service at the target address, or correct "target" in the exposing node\'s expose entry'
  },
  'service-not-exposed': {
    stage: 'tunnel',
    meaning: 'the peer node does not expose a service of this name',
    fix: 'add an expose entry with this name to the peer node\'s config, or correct "name" in the forward entry'
  },
  'no-reachable-node': {
    stage: 'tunnel',
    meaning: 'no admitted connection to the forward\'s member or peer, and none of its roster addresses could be dialled (or the roster lists none)',
    fix: 'check that the member\'s node runs; list its address in the roster (fedgate roster update-member --addr) or add it to dial'
  },
  'tunnel-limit': {
    stage: 'tunnel',
    meaning: 'the connection to the peer already carries as many tunnels of this service as a node allows',
    fix: 'close idle client connections, or spread clients over more forward entries and member nodes'
  },
  'tunnel-reset': {
    stage: 'tunnel',
    meaning: 'one end of a tunnel reset it: the local client, the target service, or the other node\'s side',
    fix: 'none needed if a client or the service closed on purpose; otherwise the other node\'s tunnel-close line says which end failed'
  }
} as const satisfies Record<string, { stage: string, meaning: string, fix: string }>

export type ReasonCode = keyof typeof REASONS

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[]

/** Credential verdicts, in the order `verifyCredential` checks them (cheapest first). */
export const CREDENTIAL_CHECK_ORDER = [
  'federation-mismatch',
  'unknown-member',
  'revoked',
  'peer-mismatch',
  'not-yet-valid',
  'expired',
  'ttl-exceeded',
  'role-not-held',
  'bad-signature'
] as const satisfies readonly ReasonCode[]

export type CredentialVerdict = typeof CREDENTIAL_CHECK_ORDER[number]

export function isReasonCode (value: unknown): value is ReasonCode {
  return typeof value === 'string' && Object.hasOwn(REASONS, value)
}

/** The fix an operator should apply for a reason code, for error messages and the CLI. */
export function reasonFix (code: ReasonCode): string {
  return REASONS[code].fix
}
