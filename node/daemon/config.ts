import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { TrustRoot } from '../files/roster-store.ts'
import { describe, parseHostPort, stringValue, type HostPort } from './config-values.ts'
import { ConfigError } from './errors.ts'
import {
  checkFlagLists, parseExposeFlag, parseExposeList, parseForwardFlag, parseForwardList, type ExposeConfig, type ForwardConfig
} from './sidecar/index.ts'

export { formatHostPort, isLoopback } from './config-values.ts'

/** Where the admin endpoint listens unless the operator says otherwise: loopback only. */
export const DEFAULT_ADMIN_HOST = '127.0.0.1'
export const DEFAULT_ADMIN_PORT = 9474
export const DEFAULT_ADMIN = `${DEFAULT_ADMIN_HOST}:${DEFAULT_ADMIN_PORT}`
/** The data directory, relative to the config file's folder, when the config does not name one. */
export const DEFAULT_DATA_DIR = 'data'
export const DEFAULT_LOG_LEVEL = 'info'
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** A config file larger than this is not a config file. */
const MAX_CONFIG_BYTES = 1024 * 1024
const MAX_ADDRS = 256

const CONFIG_FIELDS = ['key', 'credential', 'roster', 'dataDir', 'listen', 'admin', 'adminToken', 'dial', 'auditLog', 'logLevel', 'rosterSync', 'trustRoot', 'psk', 'expose', 'forward', 'waitForCredential'] as const
type ConfigField = typeof CONFIG_FIELDS[number]
const REQUIRED_FIELDS = ['key', 'credential', 'roster', 'listen'] as const

/** The command-line flag that sets each config field. */
const FLAG_OF: Readonly<Record<ConfigField, string>> = {
  key: '--key',
  credential: '--credential',
  roster: '--roster',
  dataDir: '--data-dir',
  listen: '--listen',
  admin: '--admin',
  adminToken: '--admin-token',
  dial: '--dial',
  auditLog: '--audit-log',
  logLevel: '--log-level',
  rosterSync: '--no-roster-sync',
  trustRoot: '--trust-root',
  psk: '--psk',
  expose: '--expose',
  forward: '--forward',
  waitForCredential: '--wait-for-credential'
}

export type AdminAddress = HostPort

/** The daemon's settings, validated, with every path absolute. */
export interface DaemonConfig {
  /** The config file the settings came from, if any. */
  readonly file: string | undefined
  /** Node key file (mode 0600). */
  readonly key: string
  /** Membership credential file; watched, so a renewed credential written there is applied live. */
  readonly credential: string
  /** Roster file; watched, so a newer signed epoch written there is applied live. */
  readonly roster: string
  /** Accepted roster epochs and the runtime address files (admin.addr, listen.addrs). */
  readonly dataDir: string
  readonly listen: readonly string[]
  /** Null: no admin endpoint. */
  readonly admin: AdminAddress | null
  /** A file holding the bearer token `POST /roster` requires (mode 0600); null: no token. */
  readonly adminToken: string | null
  /** Reserved peers: dialled at start and redialled with backoff whenever they disconnect. */
  readonly dial: readonly string[]
  /** Null: the audit log goes to stdout. */
  readonly auditLog: string | null
  readonly logLevel: LogLevel
  /** Exchange roster epochs with admitted peers (announce accepted epochs, fetch missing ones). */
  readonly rosterSync: boolean
  /** The pinned root of trust; null: the first roster is trusted on first use. */
  readonly trustRoot: TrustRoot | null
  /** A federation-wide pre-shared key file (libp2p swarm key); null: none. */
  readonly psk: string | null,
  /** Local TCP services this node serves to members (sidecar). */
  readonly expose: readonly ExposeConfig[]
  /** Local listeners whose connections are carried to members' exposed services (sidecar). */
  readonly forward: readonly ForwardConfig[]
  /** Start with an expired, not yet valid or missing credential and wait for a renewal (`/healthz` 503) instead of exiting. */
  readonly waitForCredential: boolean
}

/** The same settings given as command-line flags; each overrides the config file. */
export interface DaemonFlags {
  config?: string
  key?: string
  credential?: string
  roster?: string
  dataDir?: string
  listen?: readonly string[]
  admin?: string | false
  adminToken?: string
  dial?: readonly string[]
  auditLog?: string
  logLevel?: string
  rosterSync?: boolean
  trustRoot?: string
  psk?: string
  /** `NAME=HOST:PORT`, each */
  expose?: readonly string[]
  /** `NAME=HOST:PORT@MEMBER` (or `@PEERID`, `@MULTIADDR`), each */
  forward?: readonly string[]
  waitForCredential?: boolean
}

type Settings = { -readonly [K in keyof DaemonConfig]?: DaemonConfig[K] }

/**
 * Builds the daemon's settings from an optional JSON config file and flags (flags win). Paths in
 * the file resolve against the file's folder, paths in flags against the working directory.
 * Without a config file the flags alone must name the key, credential, roster, data directory and
 * listen addresses.
 */
export async function loadDaemonConfig (flags: DaemonFlags, cwd: string = process.cwd()): Promise<DaemonConfig> {
  const file = flags.config === undefined ? undefined : resolve(cwd, flags.config)
  const fromFile = file === undefined ? {} : parseConfigFile(await readConfigFile(file), file)
  const fromFlags = parseFlags(flags, cwd)
  const merged: Settings = { ...fromFile, ...fromFlags }
  const missing = (field: ConfigField): ConfigError => file === undefined
    ? new ConfigError(FLAG_OF[field], 'required when no --config file is given', `give ${FLAG_OF[field]}, or put the settings in a config file and pass --config FILE`, true)
    : new ConfigError(`${file}: $.${field}`, 'missing field', `add "${field}" to the config file, or give ${FLAG_OF[field]}`)
  for (const field of REQUIRED_FIELDS) {
    if (merged[field] === undefined) throw missing(field)
  }
  if (merged.dataDir === undefined) {
    if (file === undefined) throw missing('dataDir')
    merged.dataDir = join(dirname(file), DEFAULT_DATA_DIR)
  }
  return {
    file,
    key: merged.key ?? '',
    credential: merged.credential ?? '',
    roster: merged.roster ?? '',
    dataDir: merged.dataDir,
    listen: merged.listen ?? [],
    admin: merged.admin === undefined ? { host: DEFAULT_ADMIN_HOST, port: DEFAULT_ADMIN_PORT } : merged.admin,
    adminToken: merged.adminToken ?? null,
    dial: merged.dial ?? [],
    auditLog: merged.auditLog ?? null,
    logLevel: merged.logLevel ?? DEFAULT_LOG_LEVEL,
    rosterSync: merged.rosterSync ?? true,
    trustRoot: merged.trustRoot ?? null,
    psk: merged.psk ?? null,
    expose: merged.expose ?? [],
    forward: merged.forward ?? [],
    waitForCredential: merged.waitForCredential ?? false
  }
}

async function readConfigFile (file: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ConfigError(file, 'no such config file', 'check the --config path')
    if (code === 'EISDIR') throw new ConfigError(file, 'is a directory, expected a JSON config file', 'check the --config path')
    throw new ConfigError(file, `cannot read config file (${code ?? String(err)})`, 'check the file permissions')
  }
  if (bytes.length > MAX_CONFIG_BYTES) throw new ConfigError(file, `config file is ${bytes.length} bytes, at most ${MAX_CONFIG_BYTES} allowed`, 'check the --config path')
  return bytes.toString('utf8')
}

/** Validates a config file's text strictly: unknown fields, wrong types and bad values name the JSON path. */
export function parseConfigFile (text: string, file: string): Settings {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(file, `not valid JSON (${err instanceof Error ? err.message : String(err)})`, 'fix the JSON syntax')
  }
  const at = (path: string): string => `${file}: ${path}`
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError(at('$'), `expected an object, got ${describe(json)}`, `write a JSON object with the fields ${CONFIG_FIELDS.join(', ')}`)
  }
  const doc = json as Record<string, unknown>
  for (const name of Object.keys(doc)) {
    if (!(CONFIG_FIELDS as readonly string[]).includes(name)) {
      throw new ConfigError(at(`$.${name}`), 'unknown field', `remove it; the fields are ${CONFIG_FIELDS.join(', ')}`)
    }
  }
  const base = dirname(file)
  const settings: Settings = {}
  const path = (field: string): string => resolve(base, filePath(doc[field], at(`$.${field}`)))
  if (doc.key !== undefined) settings.key = path('key')
  if (doc.credential !== undefined) settings.credential = path('credential')
  if (doc.roster !== undefined) settings.roster = path('roster')
  if (doc.dataDir !== undefined) settings.dataDir = path('dataDir')
  if (doc.listen !== undefined) settings.listen = addrList(doc.listen, at('$.listen'), 'listen')
  if (doc.dial !== undefined) settings.dial = addrList(doc.dial, at('$.dial'), 'dial')
  if (doc.admin !== undefined) settings.admin = doc.admin === false ? null : adminAddress(stringValue(doc.admin, at('$.admin'), `"${DEFAULT_ADMIN}", or false for no admin endpoint`), at('$.admin'))
  if (doc.adminToken !== undefined) settings.adminToken = path('adminToken')
  if (doc.psk !== undefined) settings.psk = path('psk')
  if (doc.trustRoot !== undefined) settings.trustRoot = trustRootValue(doc.trustRoot, at('$.trustRoot'))
  if (doc.auditLog !== undefined) settings.auditLog = path('auditLog')
  if (doc.logLevel !== undefined) settings.logLevel = logLevel(doc.logLevel, at('$.logLevel'))
  if (doc.rosterSync !== undefined) {
    if (typeof doc.rosterSync !== 'boolean') throw new ConfigError(at('$.rosterSync'), `expected true or false, got ${describe(doc.rosterSync)}`, 'write true (the default) or false')
    settings.rosterSync = doc.rosterSync
  }
  if (doc.waitForCredential !== undefined) {
    if (typeof doc.waitForCredential !== 'boolean') throw new ConfigError(at('$.waitForCredential'), `expected true or false, got ${describe(doc.waitForCredential)}`, 'write true or false (the default)')
    settings.waitForCredential = doc.waitForCredential
  }
  if (doc.expose !== undefined) settings.expose = parseExposeList(doc.expose, at('$.expose'))
  if (doc.forward !== undefined) settings.forward = parseForwardList(doc.forward, at('$.forward'))
  return settings
}

function parseFlags (flags: DaemonFlags, cwd: string): Settings {
  const settings: Settings = {}
  if (flags.key !== undefined) settings.key = resolve(cwd, flags.key)
  if (flags.credential !== undefined) settings.credential = resolve(cwd, flags.credential)
  if (flags.roster !== undefined) settings.roster = resolve(cwd, flags.roster)
  if (flags.dataDir !== undefined) settings.dataDir = resolve(cwd, flags.dataDir)
  if (flags.listen !== undefined) settings.listen = flags.listen.map(a => multiaddrValue(a, `--listen ${a}`, 'listen', true))
  if (flags.dial !== undefined) settings.dial = flags.dial.map(a => multiaddrValue(a, `--dial ${a}`, 'dial', true))
  if (flags.admin !== undefined) settings.admin = flags.admin === false ? null : adminAddress(flags.admin, `--admin ${flags.admin}`, true)
  if (flags.adminToken !== undefined) settings.adminToken = resolve(cwd, flags.adminToken)
  if (flags.psk !== undefined) settings.psk = resolve(cwd, flags.psk)
  if (flags.trustRoot !== undefined) settings.trustRoot = trustRootFlag(flags.trustRoot)
  if (flags.auditLog !== undefined) settings.auditLog = resolve(cwd, flags.auditLog)
  if (flags.logLevel !== undefined) settings.logLevel = logLevel(flags.logLevel, `--log-level ${flags.logLevel}`, true)
  if (flags.rosterSync !== undefined) settings.rosterSync = flags.rosterSync
  if (flags.waitForCredential !== undefined) settings.waitForCredential = flags.waitForCredential
  if (flags.expose !== undefined) settings.expose = flags.expose.map(parseExposeFlag)
  if (flags.forward !== undefined) settings.forward = flags.forward.map(parseForwardFlag)
  checkFlagLists(settings.expose ?? [], settings.forward ?? [])
  return settings
}

/** Parses the admin endpoint's `HOST:PORT` or `[IPv6]:PORT`; port 0 picks a free port. */
export function adminAddress (value: string, where: string, usage = false): AdminAddress {
  return parseHostPort(value, where, `${DEFAULT_ADMIN} or [::1]:${DEFAULT_ADMIN_PORT}`, usage)
}

function addrList (value: unknown, where: string, kind: 'listen' | 'dial'): string[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(where, `expected an array of multiaddrs, got ${describe(value)}`, `write e.g. ["${EXAMPLE_ADDR[kind]}"]`)
  }
  if (value.length > MAX_ADDRS) throw new ConfigError(where, `at most ${MAX_ADDRS} addresses allowed, got ${value.length}`, 'list fewer addresses')
  const addrs = value.map((v, i) => multiaddrValue(stringValue(v, `${where}[${i}]`, `a multiaddr such as ${EXAMPLE_ADDR[kind]}`), `${where}[${i}]`, kind))
  const seen = new Set<string>()
  addrs.forEach((a, i) => {
    if (seen.has(a)) throw new ConfigError(`${where}[${i}]`, `duplicate address ${a}`, 'list each address once')
    seen.add(a)
  })
  return addrs
}

const EXAMPLE_ADDR = { listen: '/ip4/0.0.0.0/tcp/4001', dial: '/ip4/10.0.0.1/tcp/4001/p2p/12D3KooW...' } as const
const WS_LISTEN_EXAMPLE = '/ip4/0.0.0.0/tcp/4002/ws'

/**
 * A TCP or WebSocket multiaddr: listen addresses need an IP and end at `/tcp/N` or `/tcp/N/ws`,
 * dial addresses may use DNS.
 */
function multiaddrValue (value: string, where: string, kind: 'listen' | 'dial', usage = false): string {
  let names: string[]
  try {
    names = multiaddr(value).getComponents().map(c => c.name)
  } catch (err) {
    throw new ConfigError(where, `invalid multiaddr ${JSON.stringify(value)} (${err instanceof Error ? err.message : String(err)})`, `write it like ${EXAMPLE_ADDR[kind]}`, usage)
  }
  const hosts = kind === 'listen' ? ['ip4', 'ip6'] : ['ip4', 'ip6', 'dns', 'dns4', 'dns6']
  const [host, transport, ...rest] = names
  if (host === undefined || !hosts.includes(host) || transport !== 'tcp') {
    throw new ConfigError(where, `${JSON.stringify(value)} is not a TCP address fedgate can ${kind} on`, `write it like ${EXAMPLE_ADDR[kind]}`, usage)
  }
  if (kind === 'listen' && (rest.includes('tls') || rest.includes('wss'))) {
    throw new ConfigError(where, `${JSON.stringify(value)} asks for TLS, which fedgate does not terminate (Noise already encrypts every connection)`, `listen on ${WS_LISTEN_EXAMPLE}, and put a TLS proxy in front of it for pages served over https`, usage)
  }
  if (kind === 'listen' && !(rest.length === 0 || (rest.length === 1 && rest[0] === 'ws'))) {
    throw new ConfigError(where, `${JSON.stringify(value)} is neither a TCP nor a WebSocket listen address`, `write it like ${EXAMPLE_ADDR.listen} (TCP) or ${WS_LISTEN_EXAMPLE} (WebSocket, for browser light clients)`, usage)
  }
  return value
}

const TRUST_ROOT_HINT = '{ "federation": NAME, "fingerprint": 64 hex characters } (fedgate roster show prints the roster and admin-set fingerprints)'

function trustRootValue (value: unknown, where: string): TrustRoot {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(where, `expected an object, got ${describe(value)}`, `write ${TRUST_ROOT_HINT}`)
  const doc = value as Record<string, unknown>
  const extra = Object.keys(doc).filter(k => k !== 'federation' && k !== 'fingerprint')
  if (extra.length > 0) throw new ConfigError(`${where}.${extra[0] ?? ''}`, 'unknown field', `write ${TRUST_ROOT_HINT}`)
  const federation = stringValue(doc.federation, `${where}.federation`, 'the federation name the roster carries')
  const fingerprint = stringValue(doc.fingerprint, `${where}.fingerprint`, 'the fingerprint of the first trusted epoch, or of its admin set')
  if (!/^[0-9a-f]{64}$/.test(fingerprint)) throw new ConfigError(`${where}.fingerprint`, `expected 64 lowercase hex characters, got ${describe(fingerprint)}`, 'copy the fingerprint fedgate roster show prints')
  return { federation, fingerprint }
}

/** `--trust-root FEDERATION:FINGERPRINT`. */
function trustRootFlag (value: string): TrustRoot {
  const match = /^([^:]+):([0-9a-f]{64})$/.exec(value)
  if (match?.[1] === undefined || match[2] === undefined) throw new ConfigError(`--trust-root ${value}`, 'expected FEDERATION:FINGERPRINT (64 lowercase hex characters)', 'copy the fingerprint fedgate roster show prints', true)
  return { federation: match[1], fingerprint: match[2] }
}

function filePath (value: unknown, where: string): string {
  return stringValue(value, where, 'a file path, relative to the config file or absolute')
}

function logLevel (value: unknown, where: string, usage = false): LogLevel {
  const level = LOG_LEVELS.find(l => l === value)
  if (level === undefined) throw new ConfigError(where, `expected one of ${LOG_LEVELS.join(', ')}, got ${describe(value)}`, `use ${DEFAULT_LOG_LEVEL} unless debugging`, usage)
  return level
}
