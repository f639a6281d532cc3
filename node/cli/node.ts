import { Option, type Command } from 'commander'
import {
  ConfigError, DaemonStartError, DEFAULT_ADMIN, humanDuration, loadDaemonConfig, LOG_LEVELS, runDaemon, timeLeft,
  type DaemonFlags, type StatusDocument, type WaitingDocument
} from '../daemon/index.ts'
import { request } from './admin-request.ts'
import { CliError, EXIT_REFUSED, EXIT_USAGE, printJson, printLine, printRows } from './io.ts'
import { registerNodeReset } from './node-reset.ts'
import { registerPublish } from './publish.ts'

/** Reading `/status` should be instant; a node that does not answer within this is reported. */
const STATUS_TIMEOUT_MS = 10_000
/** Refusals the human `node status` output lists (newest first); `--json` has all the node returns. */
const REFUSALS_SHOWN = 10
/** After a clean stop (log flushed, peers told), libp2p leftovers holding the event loop get this long before the process exits. */
const EXIT_GRACE_MS = 200

/**
 * `fedgate node start|status` and `fedgate roster publish`: run a node, read a running node's
 * status from its admin endpoint, hand it a signed roster epoch. Call after the `roster` group is
 * registered (publish joins it).
 */
export function registerNodeCommands (program: Command): void {
  const node = program.command('node').description('run a fedgate node, and look at a running one through its admin endpoint')

  node.command('start')
    .description('run a node until SIGTERM or SIGINT (SIGHUP re-reads the roster and credential files); settings from --config FILE and/or flags, flags win')
    .option('--config <file>', 'JSON config file (relative paths in it resolve against its folder)')
    .option('--key <file>', 'node key file (mode 0600)')
    .option('--credential <file>', 'membership credential file (watched: a renewed file is applied live)')
    .option('--roster <file>', 'roster file (watched: a newer signed epoch is applied live)')
    .option('--data-dir <dir>', 'accepted roster epochs and runtime files (default: data/ next to the config file)')
    .option('--listen <multiaddr...>', 'addresses to listen on, e.g. /ip4/0.0.0.0/tcp/4001')
    .option('--dial <multiaddr...>', 'reserved peers to keep connected (redialled with backoff)')
    .option('--admin <host:port>', `admin endpoint address (default ${DEFAULT_ADMIN}; port 0 picks a free one, written to DATA_DIR/admin.addr)`)
    .option('--no-admin', 'run without the admin endpoint')
    .option('--admin-token <file>', 'require the bearer token in FILE (mode 0600) for POST /roster')
    .option('--psk <file>', 'federation-wide pre-shared key (fedgate keygen psk): peers without it are refused before Noise')
    .option('--trust-root <federation:fingerprint>', 'refuse any roster chain not rooted at this epoch or admin-set fingerprint (fedgate roster show prints them)')
    .option('--audit-log <file>', 'append the JSON audit log to this file (default: stdout)')
    .addOption(new Option('--log-level <level>', 'audit log level (default info)').choices(LOG_LEVELS))
    .option('--roster-sync', 'exchange roster epochs with admitted peers (the default)')
    .option('--no-roster-sync', 'take roster epochs only from the roster file and roster publish')
    .option('--expose <name=host:port...>', 'serve a local TCP service to members as /fedgate/tcp/NAME/1.0.0 (the roster decides which roles may use it)')
    .option('--wait-for-credential', 'with an expired, not yet valid or missing credential, wait for a renewed one (healthz answers 503) instead of exiting')
    .option('--forward <name=host:port@member...>', 'listen on HOST:PORT and carry each connection to the service NAME of a member (or @PEERID, @MULTIADDR)')
    .action(async (opts: DaemonFlags) => {
      try {
        await runDaemon(await loadDaemonConfig(opts))
      } catch (err) {
        throw cliErrorOf(err)
      }
      setTimeout(() => { process.exit() }, EXIT_GRACE_MS).unref()
    })

  node.command('status')
    .description('the running node\'s identity, roster epoch, credential, peers and last refusals (GET /status)')
    .option('--admin <host:port>', 'the node\'s admin endpoint', DEFAULT_ADMIN)
    .option('--json', 'print the /status document')
    .action(async (opts: { admin: string, json?: boolean }) => {
      const { status, doc } = await request(opts.admin, '/status', { method: 'GET', timeoutMs: STATUS_TIMEOUT_MS })
      const waiting = doc as Partial<WaitingDocument> | null
      if (status === 503 && waiting?.waiting === 'credential') {
        throw new CliError(`admin endpoint ${opts.admin}: the node has not started: it waits for a valid credential in ${waiting.credentialFile ?? 'its credential file'} (the one there: ${waiting.reason ?? 'unknown'})`, { fix: waiting.fix ?? 'write a valid credential to its credential file' })
      }
      if (status !== 200) throw new CliError(`admin endpoint ${opts.admin}: /status answered HTTP ${status}`, { fix: 'check that --admin points at a fedgate node' })
      const report = doc as StatusDocument
      if (opts.json === true) printJson(report)
      else printStatus(report)
    })

  registerNodeReset(node)
  registerPublish(program)
}

/** Config and start errors become the CLI's one error line with the fix; others pass through. */
export function cliErrorOf (err: unknown): unknown {
  if (err instanceof ConfigError) return new CliError(err.message, { exitCode: err.usage ? EXIT_USAGE : EXIT_REFUSED, fix: err.fix })
  if (err instanceof DaemonStartError) return new CliError(err.message, err.fix === undefined ? {} : { fix: err.fix })
  return err
}

function printStatus (s: StatusDocument): void {
  const now = Date.now()
  printRows([
    ['peer id', s.peerId],
    ['federation', `${s.federation}, roster epoch ${s.rosterEpoch}`],
    ['member', `${s.memberId}, roles ${s.roles.join(',')}`],
    ['credential', `${s.credential.fingerprint.slice(0, 16)} expires ${s.credential.notAfter} (${timeLeft(s.credential.expiresInSeconds * 1000)})`],
    ...(s.listen.length === 0 ? [['listen', '(none)'] as const] : s.listen.map((a, i) => [i === 0 ? 'listen' : '', a] as const)),
    ['up', `${humanDuration(now - Date.parse(s.startedAt))} (since ${s.startedAt})`],
    ['peers', s.peers.length],
    ['refusals', s.refusals.length],
    ...s.expose.map((e, i) => [i === 0 ? 'expose' : '', `${e.name} → ${e.target} (${e.protocol}${e.mode === 'http' ? ', http' : ''})`] as const),
    ...s.forward.map((f, i) => [i === 0 ? 'forward' : '', `${f.listen} → ${f.name} of ${f.to}`] as const),
    ...(s.expose.length + s.forward.length === 0 ? [] : [['tunnels', s.tunnels.length] as const])
  ])
  printLine('')
  if (s.peers.length === 0) {
    printLine('no admitted peers')
  } else {
    printTable(['PEER ID', 'MEMBER', 'ROLES', 'DIRECTION', 'SINCE', 'ADDRESS'],
      s.peers.map(p => [p.peerId, p.memberId, p.roles.join(','), p.direction, p.since, p.remoteAddr]))
  }
  if (s.tunnels.length > 0) {
    printLine('')
    printTable(['TUNNEL', 'SERVICE', 'SIDE', 'MEMBER', 'LOCAL', 'SINCE', 'SENT', 'RECEIVED'],
      s.tunnels.map(t => [String(t.id), t.service, t.side, t.memberId, t.local, t.since, String(t.bytesSent), String(t.bytesReceived)]))
  }
  printLine('')
  if (s.refusals.length === 0) {
    printLine('no refusals')
    return
  }
  const shown = s.refusals.slice(-REFUSALS_SHOWN).reverse()
  printLine(`last refusals (newest first, ${shown.length} of ${s.refusals.length})`)
  printTable(['AT', 'CODE', 'BY', 'STAGE', 'DIRECTION', 'MEMBER', 'PEER ID', 'ADDRESS', 'PROTOCOL'],
    shown.map(r => [r.at, r.code, r.by, r.stage, r.direction, r.memberId ?? '-', r.peerId ?? '-', r.remoteAddr ?? '-', r.protocol ?? '-']))
}

function printTable (headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  printLine([line(headers), ...rows.map(line)].join('\n'))
}
