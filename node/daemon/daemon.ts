import { access, appendFile, constants, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { adminSetFingerprint, reasonFix, rolesAllowedOn, RosterRefusedError } from '../../membership/index.ts'
import { readSecretFile, readSwarmKey, SecretFileError } from '../files/secret-file.ts'
import { reservedAddresses, UnpinnedAddressError } from '../peers/reserved.ts'
import { RosterStore, type RosterRefusal, type StoreLogger } from '../files/roster-store.ts'
import { createFederationNode, type FederationNode } from '../federation-node.ts'
import { SelfCredentialError } from '../gate/gate.ts'
import { createAuditLog, type Logger } from '../log.ts'
import { readKeyFile } from '../files/key-file.ts'
import { AdminServer } from './admin-server.ts'
import { CredentialWaitAbortedError, waitForCredential } from './credential-wait.ts'
import { formatHostPort, type DaemonConfig } from './config.ts'
import { AdminListenError, DaemonStartError, describeErrno } from './errors.ts'
import { Sidecar } from './sidecar/index.ts'
import { startupSummary } from './summary.ts'

/**
 * libp2p pings every connection and cuts one whose ping takes longer than its adaptive timeout
 * (5 s at first). Sidecar tunnels carry bulk data on the same connection, so a ping may queue
 * behind a full stream window: it gets this long before the connection counts as dead.
 */
export const PING_TIMEOUT_MIN_MS = 30_000
export const PING_TIMEOUT_MAX_MS = 120_000
/** After SIGTERM/SIGINT, a stop that has not finished by then is cut short (exit code 1). */
export const FORCE_EXIT_MS = 5_000
/** The admin endpoint's bound address, written at start (useful with port 0), removed at stop. */
export const ADMIN_ADDR_FILE = 'admin.addr'
/** The node's listen multiaddrs, one per line, written at start, removed at stop. */
export const LISTEN_ADDRS_FILE = 'listen.addrs'

export interface DaemonInit {
  /** Where the startup summary and warnings go. @default process.stderr */
  stderr?: NodeJS.WritableStream
  /** @default the audit log the config names (a file, or stdout) */
  log?: Logger
  /** Aborting it ends a wait for the credential (waitForCredential) with CredentialWaitAbortedError. */
  signal?: AbortSignal
}

/**
 * A running fedgate node as an operator runs it: the federation node, its admin endpoint and its
 * reserved peers, with the runtime address files in the data directory.
 */
export class Daemon {
  readonly config: DaemonConfig
  readonly node: FederationNode
  readonly admin: AdminServer | null
  readonly sidecar: Sidecar
  private stopping: Promise<void> | undefined

  constructor (config: DaemonConfig, node: FederationNode, admin: AdminServer | null, sidecar: Sidecar) {
    this.config = config
    this.node = node
    this.admin = admin
    this.sidecar = sidecar
  }

  /** Re-reads the roster and credential files (SIGHUP); file watching does the same on its own. */
  async reload (): Promise<void> {
    this.node.log.info({ event: 'reload' }, 'reloading roster and credential files')
    await this.node.reload()
  }

  /** Stops redialling and the sidecar's tunnels, tells every peer why (bye protocol), stops the node and its roster watch, then the admin endpoint. */
  async stop (): Promise<void> {
    this.stopping ??= this.stopNow()
    await this.stopping
  }

  private async stopNow (): Promise<void> {
    this.admin?.markStopping()
    await this.sidecar.stop()
    await this.node.stop()
    await this.node.store.close()
    await this.admin?.close()
    await Promise.all([ADMIN_ADDR_FILE, LISTEN_ADDRS_FILE].map(async f => rm(join(this.config.dataDir, f), { force: true })))
    await new Promise<void>(resolve => { this.node.log.flush(() => { resolve() }) })
  }
}

/**
 * Starts the node described by `config`: refuses to start on a missing file, an unusable key, an
 * own credential that does not verify, or an address already in use (DaemonStartError and the
 * membership errors name the file or address). Prints one startup summary on stderr.
 */
export async function startDaemon (config: DaemonConfig, init: DaemonInit = {}): Promise<Daemon> {
  const stderr = init.stderr ?? process.stderr
  await access(config.roster, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
    throw new DaemonStartError(`${config.roster}: ${err.code === 'ENOENT' ? 'no such roster file' : `cannot read roster file (${err.code ?? String(err)})`}`, 'create it with fedgate roster init, or check the roster path')
  })
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    throw new DaemonStartError(`${config.dataDir}: cannot create the data directory (${err.code ?? String(err)})`, 'choose a dataDir the node may write to')
  })
  if (config.auditLog !== null && init.log === undefined) await openAuditLog(config.auditLog)
  const log = init.log ?? createAuditLog({ file: config.auditLog ?? undefined, level: config.logLevel })
  const token = config.adminToken === null ? undefined : await readSecretFile(config.adminToken).catch((err: unknown) => {
    throw new DaemonStartError(err instanceof Error ? err.message : String(err), 'point adminToken (--admin-token) at a file of mode 0600 holding one token')
  })
  const { store, fileRefusal } = await openRoster(config, log)
  let node: FederationNode | undefined
  let adminAt = config.admin
  try {
    const psk = config.psk === null ? undefined : await readSwarmKey(config.psk)
    const key = await readKeyFile(config.key, 'node')
    if (config.waitForCredential) {
      adminAt = await waitForCredential({ file: config.credential, peerId: key.peerId, store, admin: config.admin, log, stderr, ...(init.signal === undefined ? {} : { signal: init.signal }) })
    }
    node = await createFederationNode({
      peers: { extra: reservedAddresses(config.dial, store.current) },
      ...(psk === undefined ? {} : { psk }),
      key,
      credential: config.credential,
      roster: store,
      listen: [...config.listen],
      log,
      rosterSync: config.rosterSync,
      libp2p: { connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS, maxTimeout: PING_TIMEOUT_MAX_MS } } }
    })
    // Key, credential and roster all passed: only now does the data directory receive the epochs.
    await store.commit()
  } catch (err) {
    await node?.stop()
    await store.close()
    throw startError(config, err)
  }
  store.watch()
  let admin: AdminServer | null = null
  let sidecar: Sidecar | null = null
  try {
    sidecar = await Sidecar.start({ node, expose: config.expose, forward: config.forward })
    if (adminAt !== null) admin = await AdminServer.listen(node, adminAt, { sidecar, ...(token === undefined ? {} : { token }) })
    const listen = node.getMultiaddrs().map(String)
    await writeFileAtomic(join(config.dataDir, LISTEN_ADDRS_FILE), listen.map(a => a + '\n').join(''))
    if (admin !== null) await writeFileAtomic(join(config.dataDir, ADMIN_ADDR_FILE), formatHostPort(admin.address) + '\n')
    const { expose, forward } = sidecar.status()
    stderr.write(startupSummary({
      peerId: node.peerId,
      federation: node.roster.federation,
      rosterEpoch: node.roster.epoch,
      memberId: node.credential.memberId,
      roles: node.localRoles,
      credentialFingerprint: node.credential.fingerprint,
      credentialNotBeforeMs: node.credential.notBeforeMs,
      credentialNotAfterMs: node.credential.notAfterMs,
      credentialFile: config.credential,
      listen,
      dial: config.dial,
      admin: admin?.address ?? null,
      auditLog: config.auditLog,
      dataDir: config.dataDir,
      rosterFileRefused: fileRefusal === null ? null : { file: config.roster, code: fileRefusal.code },
      trustRoot: config.trustRoot === null
        ? { pinned: false, federation: store.root.federation, fingerprint: store.root.fingerprint, admins: adminSetFingerprint(store.root.admins) }
        : { pinned: true, federation: config.trustRoot.federation, fingerprint: config.trustRoot.fingerprint },
      expose,
      forward,
      exposeNotAllowed: expose.map(e => e.protocol).filter(p => rolesAllowedOn(node.roster.policy.protocols, p) === undefined),
      now: Date.now()
    }))
    return new Daemon(config, node, admin, sidecar)
  } catch (err) {
    await admin?.close()
    await sidecar?.stop()
    await node.stop()
    await store.close()
    if (err instanceof AdminListenError) throw new DaemonStartError(err.message, 'choose another admin address ("admin" in the config, or --admin HOST:PORT), or stop the process that holds it')
    throw err
  }
}

/**
 * Runs the daemon until SIGTERM or SIGINT, then stops it gracefully; SIGHUP reloads the roster and
 * credential files. Rejects if the stop fails; a stop that hangs, or a second signal, ends the
 * process with exit code 1.
 */
export async function runDaemon (config: DaemonConfig, init: DaemonInit = {}): Promise<void> {
  const stderr = init.stderr ?? process.stderr
  // A stop asked for while the node is still starting is honoured once it has started.
  let early: NodeJS.Signals | undefined
  const waiting = new AbortController()
  const onEarlyStop = (signal: NodeJS.Signals): void => {
    if (early !== undefined) process.exit(1)
    early = signal
    stderr.write(`fedgate: ${signal} received while starting; stopping once started\n`)
    waiting.abort()
  }
  process.on('SIGTERM', onEarlyStop)
  process.on('SIGINT', onEarlyStop)
  let daemon: Awaited<ReturnType<typeof startDaemon>>
  try {
    daemon = await startDaemon(config, { ...init, signal: waiting.signal })
  } catch (err) {
    if (!(err instanceof CredentialWaitAbortedError)) throw err
    stderr.write('fedgate: stopped while waiting for a credential\n')
    return
  } finally {
    process.off('SIGTERM', onEarlyStop)
    process.off('SIGINT', onEarlyStop)
  }
  const onHangup = (): void => {
    daemon.reload().catch((err: unknown) => { stderr.write(`fedgate: reload failed: ${err instanceof Error ? err.message : String(err)}\n`) })
  }
  const stopError = await new Promise<unknown>(resolve => {
    let state: 'running' | 'stopping' | 'stopped' = 'running'
    const onStop = (signal: NodeJS.Signals): void => {
      if (state === 'stopped') return
      if (state === 'stopping') {
        stderr.write(`fedgate: ${signal} again, exiting without waiting for the stop to finish\n`)
        process.exit(1)
      }
      state = 'stopping'
      stderr.write(`fedgate: ${signal} received, stopping (telling peers: shutdown)\n`)
      const force = setTimeout(() => {
        stderr.write(`fedgate: stop did not finish within ${FORCE_EXIT_MS} ms, exiting\n`)
        process.exit(1)
      }, FORCE_EXIT_MS)
      void daemon.stop().then(() => null, (err: unknown) => err).then(err => {
        clearTimeout(force)
        state = 'stopped'
        if (err === null) stderr.write('fedgate: stopped\n')
        resolve(err)
      })
    }
    process.on('SIGTERM', onStop)
    process.on('SIGINT', onStop)
    process.on('SIGHUP', onHangup)
    if (early !== undefined) onStop(early)
  })
  process.off('SIGHUP', onHangup)
  if (stopError !== null) throw stopError
}

/**
 * Opens the roster store: the highest epoch in the data directory, then the roster file if it may
 * follow. Returns the file's refusal too, when an epoch accepted earlier runs instead of it. When no
 * epoch can run at all, the one error line names the file and the refusal's reason code.
 */
async function openRoster (config: DaemonConfig, log: Logger): Promise<{ store: RosterStore, fileRefusal: RosterRefusal | null }> {
  const store = new RosterStore({
    dataDir: config.dataDir,
    rosterFile: config.roster,
    log: log.child({ component: 'roster' }) as StoreLogger,
    ...(config.trustRoot === null ? {} : { trustRoot: config.trustRoot })
  })
  const refusals: RosterRefusal[] = []
  const onRefused = (evt: CustomEvent<RosterRefusal>): void => { refusals.push(evt.detail) }
  store.addEventListener('refused', onRefused)
  try {
    await store.open({ deferWrites: true })
  } catch (err) {
    await store.close()
    const refusal = refusals.at(-1)
    if (refusal === undefined || !(err instanceof RosterRefusedError)) throw err
    const { code, message } = refusal
    const detail = message.startsWith(`${code}:`) ? message : `${code}: ${message}`
    throw new DaemonStartError(`${config.roster}: refused: ${detail}; no epoch accepted earlier in ${config.dataDir} to run instead`, reasonFix(code))
  } finally {
    store.removeEventListener('refused', onRefused)
  }
  const fileRefusal = refusals.at(-1) ?? null
  if (fileRefusal?.code === 'federation-mismatch') {
    await store.close()
    const stored = store.current.federation
    throw new DaemonStartError(`${config.roster}: refused: federation-mismatch: ${fileRefusal.message}; the data directory ${config.dataDir} holds the epochs of ${JSON.stringify(stored)} this node accepted earlier`,
      `point "roster" (--roster) at a roster of ${JSON.stringify(stored)}; or, if this node now belongs to the other federation, set the data directory aside (fedgate node reset --data-dir ${config.dataDir}) and start again`)
  }
  return { store, fileRefusal }
}

/** Checks the audit log file can be appended to, so a bad path fails at start with one line. */
async function openAuditLog (file: string): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true })
    await appendFile(file, '')
  } catch (err) {
    throw new DaemonStartError(`${file}: cannot write the audit log (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'choose an auditLog path the node may write to')
  }
}

/** One line naming what failed at start, with the fix. */
function startError (config: DaemonConfig, err: unknown): unknown {
  if (err instanceof UnpinnedAddressError) return new DaemonStartError(err.message, err.fix)
  if (err instanceof SecretFileError) return new DaemonStartError(err.message, 'point psk (--psk) at a swarm key file of mode 0600 made by fedgate keygen psk')
  if (err instanceof SelfCredentialError) {
    return new DaemonStartError(`${config.credential}: own credential refused: ${err.code}`, reasonFix(err.code))
  }
  if (err instanceof Error && err.name === 'UnsupportedListenAddressesError') {
    // libp2p lists each failed address as `  /ip4/…/tcp/N: Error: listen EADDRINUSE: …`.
    const failures = [...err.message.matchAll(/^\s*(\/\S+): \w*Error: (?:listen )?(\w+)[^\n]*$/gm)].map(m => `${m[1] ?? ''}: ${describeErrno(m[2] ?? '')}`)
    const inUse = err.message.includes('EADDRINUSE')
    return new DaemonStartError(`listen ${failures.length > 0 ? failures.join(', ') : `${config.listen.join(', ')}: cannot listen`}`,
      inUse ? 'choose another port in "listen" (or --listen), or stop the process that holds it' : 'listen on an address of this host')
  }
  return err
}
