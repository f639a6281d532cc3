/**
 * Connection benchmark for the authenticated node.
 *
 *   node scripts/bench-connections.ts [--quick] [--json] [--rounds N] [--seconds S] [--concurrency C]
 *                                     [--variants fedgate,bare,mtls,...] [--reps N] [--profile DIR]
 *
 * 1. Authenticated connections per second. One op = connect, open one stream (one TLS socket for
 *    mTLS), 4-byte request and echo, close. C loops run concurrently, each dialling from its own
 *    rotating subset of a pool of distinct dialer nodes. Listener and dialers share this process,
 *    so a rate is the inverse of the CPU both ends spend per connection. Variants are interleaved
 *    in rounds (the order rotates each round) and each reports the median of its rounds.
 * 2. Revocation latency. A listener holds connections from many nodes of one member plus a few
 *    from other members; a roster epoch revoking that member is renamed over the listener's roster
 *    file, and each connection's time from the rename to its `close` event is recorded on both
 *    sides. Repeated with a fresh member and fresh connections each time.
 *
 * Everything runs on 127.0.0.1 in temp directories that are removed on exit. `--profile DIR` writes
 * one V8 CPU profile per variant and round (measured rounds only, not setup or warmup).
 */
import { execFile } from 'node:child_process'
import { Session } from 'node:inspector/promises'
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { promisify, parseArgs } from 'node:util'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { setMaxListeners } from 'main-event'
import {
  addMember, allowProtocol, createFederationNode, generateNodeKey, generateSigningKey, initRoster, issueCredential,
  nodeNoiseCrypto, revoke, RosterStore, setPolicy, signRoster, type FederationNode, type NodeKeyType, type Roster, type SigningKey
} from '../node/index.ts'

const run = promisify(execFile)

const ECHO_PROTOCOL = '/bench/echo/1.0.0'
const PING = new Uint8Array([1, 2, 3, 4])
const FEDERATION = 'bench-fed'
/** Connection-manager settings for every libp2p listener: per-IP throttles off for a loopback load test. */
const LISTENER_CONNECTION_MANAGER = { inboundConnectionThreshold: 1_000_000, maxIncomingPendingConnections: 1024, maxConnections: 8192 }
const ROSTER_LIMITS = { maxConnectionsPerMember: 1024, maxInboundConnections: 4096, maxOutboundConnections: 1024, maxPendingHandshakes: 1024 }
const THROUGHPUT_TARGET_VS_BARE = 0.9
const THROUGHPUT_STRETCH_VS_MTLS = 1.0
const REVOCATION_TARGET_P99_MS = 1_000
/** A revocation repetition fails when a connection is still open this long after the rename. */
const REVOCATION_GIVE_UP_MS = 10_000
/** Bounds an op that hangs (libp2p's own dial and close timeouts bound the rest). */
const OP_TIMEOUT_MS = 10_000
/** A variant that fails this many ops in one round is broken; stop it rather than spin. */
const MAX_ERRORS_PER_ROUND = 50

const FULL = { rounds: 3, seconds: 4, warmupSeconds: 1.5, concurrency: 8, dialerPool: 32, reps: 10, victims: 50, keepers: 3 }
const QUICK = { rounds: 1, seconds: 1, warmupSeconds: 0.3, concurrency: 4, dialerPool: 4, reps: 2, victims: 8, keepers: 2 }

const VARIANTS = ['fedgate', 'bare', 'mtls', 'fedgate-secp256k1', 'bare-nodecrypto'] as const
type VariantName = typeof VARIANTS[number]

const VARIANT_LABELS: Readonly<Record<VariantName, string>> = {
  'fedgate': 'fedgate (Noise + membership exchange + yamux, Ed25519)',
  'bare': 'bare libp2p (Noise + yamux + TCP, Ed25519)',
  'mtls': 'Node tls, mutual TLS 1.3 (ECDSA P-256 certs)',
  'fedgate-secp256k1': 'fedgate, secp256k1 node keys',
  'bare-nodecrypto': 'bare libp2p with fedgate\'s Noise crypto (nodeNoiseCrypto), to separate the crypto gain from the rest'
}

interface Config {
  rounds: number
  seconds: number
  warmupSeconds: number
  concurrency: number
  dialerPool: number
  reps: number
  victims: number
  keepers: number
  variants: VariantName[]
  profileDir: string | undefined
}

/** One variant, set up once and measured in several rounds. */
interface Bench {
  /** One connection: connect, one request/response, close. `loop` picks the dialer. */
  op (loop: number, iteration: number): Promise<void>
  stop (): Promise<void>
}

interface RoundResult {
  ops: number
  errors: number
  seconds: number
  connPerSec: number
  /** CPU time (user + system) this process spent per connection: robust to other load on the machine. */
  cpuMsPerConn: number
}

interface VariantResult {
  name: VariantName
  label: string
  rounds: RoundResult[]
  medianConnPerSec: number
  medianCpuMsPerConn: number
  firstError?: string
}

interface Distribution {
  samples: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

interface RevocationResult {
  reps: number
  connectionsPerRep: number
  keptConnections: number
  dialer: { all: Distribution, lastClosed: Distribution }
  listener: { all: Distribution, lastClosed: Distribution }
  /** From the rename to the listener accepting the epoch (file watch, parse, signature check, store). */
  rosterApplied: Distribution
  missedCloses: number
  keptClosed: number
  targetP99Ms: number
  pass: boolean
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Nearest-rank percentile. */
function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN
}

function distribution (values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b)
  return { samples: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? Number.NaN }
}

/** Request/response on a fresh stream: write 4 bytes, read the echo, close. */
async function echo (stream: Stream): Promise<void> {
  const signal = AbortSignal.timeout(OP_TIMEOUT_MS)
  const lp = lpStream(stream)
  await lp.write(PING, { signal })
  await lp.read({ signal })
  await stream.close({ signal })
}

async function serveEcho (stream: Stream): Promise<void> {
  const lp = lpStream(stream)
  await lp.write((await lp.read()).subarray())
  await stream.close()
}

/** Round-robin over a loop's own dialers, so `concurrency` loops never share a dialer. */
function dialerFor<T> (pool: readonly T[], concurrency: number, loop: number, iteration: number): T {
  const perLoop = Math.max(1, Math.floor(pool.length / concurrency))
  const dialer = pool[(loop + concurrency * (iteration % perLoop)) % pool.length]
  if (dialer === undefined) throw new Error('empty dialer pool')
  return dialer
}

async function tcpAddr (addrs: readonly Multiaddr[]): Promise<Multiaddr> {
  const addr = addrs.find(a => a.toString().includes('/tcp/'))
  if (addr === undefined) throw new Error('listener has no TCP address')
  return addr
}

// ---------------------------------------------------------------------------------------------
// Federation fixture

interface Federation {
  admins: readonly SigningKey[]
  memberKeys: Map<string, SigningKey>
  roster: Roster
}

/**
 * A signed genesis roster (3 admins, threshold 2): a listener member (validator) and the given
 * dialer members (full-node), the echo protocol open to both roles, limits raised for load.
 */
function federation (listenerMember: string, dialerMembers: readonly string[], maxConnections: number): Federation {
  const admins = [generateSigningKey('admin'), generateSigningKey('admin'), generateSigningKey('admin')]
  const memberKeys = new Map<string, SigningKey>()
  let roster = initRoster({ federation: FEDERATION, admins: admins.map(a => a.publicKey), threshold: 2 })
  for (const [id, roles] of [[listenerMember, ['validator']] as const, ...dialerMembers.map(id => [id, ['full-node']] as const)]) {
    const key = generateSigningKey('member')
    memberKeys.set(id, key)
    roster = addMember(roster, { id, roles: [...roles], key: key.publicKey, maxConnections })
  }
  roster = allowProtocol(roster, ECHO_PROTOCOL, ['validator', 'full-node'])
  roster = setPolicy(roster, 'limits', ROSTER_LIMITS)
  return { admins, memberKeys, roster: signBy2(roster, admins) }
}

function signBy2 (roster: Roster, admins: readonly SigningKey[]): Roster {
  let signed = roster
  for (const admin of admins.slice(0, 2)) signed = signRoster(signed, admin)
  return signed
}

/** Replaces `file` the way the CLI does: temp file in the same directory, fsync, rename. */
async function writeAtomically (file: string, text: string): Promise<{ renameStart: number }> {
  const temp = `${file}.tmp-${process.pid}`
  const handle = await open(temp, 'w', 0o644)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  const renameStart = performance.now()
  await rename(temp, file)
  return { renameStart }
}

async function writeText (file: string, text: string): Promise<void> {
  const handle = await open(file, 'w', 0o644)
  try {
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
}

async function fedgateNode (fed: Federation, memberId: string, keyType: NodeKeyType, roster: RosterStore | { dataDir: string, rosterFile: string }, listen: boolean): Promise<FederationNode> {
  const memberKey = fed.memberKeys.get(memberId)
  if (memberKey === undefined) throw new Error(`no member key for ${memberId}`)
  const key = await generateNodeKey(keyType)
  const credential = issueCredential({ roster: fed.roster, memberKey, memberId, peer: key.peerId })
  return createFederationNode({
    key,
    credential,
    roster,
    listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [],
    bans: false,
    inboundConnectionThreshold: LISTENER_CONNECTION_MANAGER.inboundConnectionThreshold,
    libp2p: { connectionManager: { maxIncomingPendingConnections: LISTENER_CONNECTION_MANAGER.maxIncomingPendingConnections } }
  })
}

/** A store every dialer node shares: it never watches a file, so only the listener's roster moves. */
async function sharedStore (dir: string, roster: Roster): Promise<RosterStore> {
  const rosterFile = join(dir, 'roster.json')
  await mkdir(dir, { recursive: true })
  await writeText(rosterFile, roster.encode())
  const store = new RosterStore({ dataDir: join(dir, 'data'), rosterFile })
  await store.open()
  setMaxListeners(Infinity, store)
  return store
}

// ---------------------------------------------------------------------------------------------
// Variants

async function fedgateBench (dir: string, config: Config, keyType: NodeKeyType): Promise<Bench> {
  const dialerMembers = Array.from({ length: Math.max(1, Math.ceil(config.dialerPool / 8)) }, (_, i) => `bench-dialers-${i}`)
  const fed = federation('bench-listener', dialerMembers, ROSTER_LIMITS.maxConnectionsPerMember)
  await mkdir(join(dir, 'listener'), { recursive: true })
  const listenerRoster = join(dir, 'listener', 'roster.json')
  await writeText(listenerRoster, fed.roster.encode())
  const listener = await fedgateNode(fed, 'bench-listener', keyType, { dataDir: join(dir, 'listener', 'data'), rosterFile: listenerRoster }, true)
  await listener.handle(ECHO_PROTOCOL, serveEcho)
  const target = await tcpAddr(listener.getMultiaddrs())
  const store = await sharedStore(join(dir, 'dialers'), fed.roster)
  const dialers = await Promise.all(Array.from({ length: config.dialerPool }, async (_, i) =>
    fedgateNode(fed, dialerMembers[i % dialerMembers.length] ?? 'bench-dialers-0', keyType, store, false)))
  return {
    async op (loop, iteration) {
      await connectEchoClose(dialerFor(dialers, config.concurrency, loop, iteration), target)
    },
    async stop () {
      await Promise.all([listener, ...dialers].map(async n => n.stop()))
      await store.close()
    }
  }
}

/** One libp2p throughput op: a new connection, one echo stream, close. */
async function connectEchoClose (dialer: { dial (target: Multiaddr): Promise<Connection> }, target: Multiaddr): Promise<void> {
  const connection = await dialer.dial(target)
  try {
    await echo(await connection.newStream(ECHO_PROTOCOL))
  } finally {
    await connection.close()
  }
}

async function bareNode (listen: boolean, crypto: ICryptoInterface | undefined): Promise<Libp2p> {
  return createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto })],
    streamMuxers: [yamux()],
    connectionManager: LISTENER_CONNECTION_MANAGER
  })
}

async function bareBench (config: Config, crypto?: ICryptoInterface): Promise<Bench> {
  const listener = await bareNode(true, crypto)
  await listener.handle(ECHO_PROTOCOL, serveEcho)
  const target = await tcpAddr(listener.getMultiaddrs())
  const dialers = await Promise.all(Array.from({ length: config.dialerPool }, async () => bareNode(false, crypto)))
  return {
    async op (loop, iteration) {
      await connectEchoClose(dialerFor(dialers, config.concurrency, loop, iteration), target)
    },
    async stop () {
      await Promise.all([listener, ...dialers].map(async n => n.stop()))
    }
  }
}

/** CA, server and client certificates (ECDSA P-256) made with the openssl CLI. */
async function certificates (dir: string): Promise<{ ca: Buffer, serverKey: Buffer, serverCert: Buffer, clientKey: Buffer, clientCert: Buffer }> {
  await mkdir(dir, { recursive: true })
  const openssl = async (...args: string[]): Promise<void> => { await run('openssl', args, { cwd: dir }) }
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key')
  await openssl('req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=bench-ca', '-out', 'ca.crt')
  for (const name of ['server', 'client']) {
    await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`)
    await openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`)
    await writeText(join(dir, `${name}.ext`), `subjectAltName=DNS:${name}\nextendedKeyUsage=${name}Auth\n`)
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`)
  }
  const read = async (name: string): Promise<Buffer> => readFile(join(dir, name))
  return { ca: await read('ca.crt'), serverKey: await read('server.key'), serverCert: await read('server.crt'), clientKey: await read('client.key'), clientCert: await read('client.crt') }
}

async function mtlsBench (dir: string): Promise<Bench> {
  const certs = await certificates(dir)
  const server = tls.createServer({
    key: certs.serverKey,
    cert: certs.serverCert,
    ca: certs.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    noDelay: true
  }, socket => {
    socket.on('error', () => {})
    socket.once('data', (data: Buffer) => { socket.end(data) })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('mTLS server has no port')
  const port = address.port
  // One client context, reused like a real client would; no session resumption, so every connection is a full handshake.
  const secureContext = tls.createSecureContext({ key: certs.clientKey, cert: certs.clientCert, ca: certs.ca, minVersion: 'TLSv1.3' })
  return {
    async op () {
      await new Promise<void>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'server', secureContext }, () => { socket.write(PING) })
        socket.setNoDelay(true)
        socket.setTimeout(OP_TIMEOUT_MS, () => { socket.destroy(new Error('mTLS op timed out')) })
        socket.once('data', () => { socket.end() })
        socket.once('close', hadError => { if (!hadError) resolve() })
        socket.once('error', reject)
      })
    },
    async stop () {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

async function setUp (name: VariantName, dir: string, config: Config): Promise<Bench> {
  switch (name) {
    case 'fedgate': return fedgateBench(join(dir, name), config, 'Ed25519')
    case 'fedgate-secp256k1': return fedgateBench(join(dir, name), config, 'secp256k1')
    case 'bare': return bareBench(config)
    case 'bare-nodecrypto': return bareBench(config, nodeNoiseCrypto)
    case 'mtls': return mtlsBench(join(dir, name))
  }
}

async function measure (bench: Bench, concurrency: number, seconds: number, onError: (err: unknown) => void): Promise<RoundResult> {
  let ops = 0
  let errors = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    for (let iteration = 0; performance.now() < deadline && errors < MAX_ERRORS_PER_ROUND; iteration++) {
      try {
        await bench.op(loop, iteration)
        ops++
      } catch (err) {
        errors++
        onError(err)
      }
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { ops, errors, seconds: elapsed, connPerSec: ops / elapsed, cpuMsPerConn: (cpu.user + cpu.system) / 1000 / Math.max(ops, 1) }
}

/** Runs `task` under the V8 CPU profiler when `dir` is set, writing `dir/name.cpuprofile`. */
async function profiled<T> (dir: string | undefined, name: string, task: () => Promise<T>): Promise<T> {
  if (dir === undefined) return task()
  const session = new Session()
  session.connect()
  try {
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
    const result = await task()
    const { profile } = await session.post('Profiler.stop')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile))
    return result
  } finally {
    session.disconnect()
  }
}

async function throughput (dir: string, config: Config, progress: (line: string) => void): Promise<VariantResult[]> {
  const benches = new Map<VariantName, Bench>()
  const results = new Map<VariantName, VariantResult>()
  try {
    for (const name of config.variants) {
      benches.set(name, await setUp(name, dir, config))
      results.set(name, { name, label: VARIANT_LABELS[name], rounds: [], medianConnPerSec: 0, medianCpuMsPerConn: 0 })
    }
    const noteError = (result: VariantResult) => (err: unknown): void => {
      result.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }
    for (const name of config.variants) {
      const bench = benches.get(name)
      const result = results.get(name)
      if (bench !== undefined && result !== undefined) await measure(bench, config.concurrency, config.warmupSeconds, noteError(result))
    }
    for (let round = 0; round < config.rounds; round++) {
      const order = config.variants.map((_, i) => config.variants[(i + round) % config.variants.length])
      for (const name of order) {
        const bench = name === undefined ? undefined : benches.get(name)
        const result = name === undefined ? undefined : results.get(name)
        if (bench === undefined || result === undefined) continue
        const measured = await profiled(config.profileDir, `${result.name}-round${round + 1}`, async () => measure(bench, config.concurrency, config.seconds, noteError(result)))
        result.rounds.push(measured)
        progress(`round ${round + 1}/${config.rounds} ${result.name}: ${measured.connPerSec.toFixed(1)} conn/s, ${measured.cpuMsPerConn.toFixed(2)} CPU ms/conn (${measured.ops} ops, ${measured.errors} errors)`)
      }
    }
  } finally {
    await Promise.all([...benches.values()].map(async b => b.stop()))
  }
  return config.variants.flatMap(name => {
    const result = results.get(name)
    if (result === undefined) return []
    result.medianConnPerSec = median(result.rounds.map(r => r.connPerSec))
    result.medianCpuMsPerConn = median(result.rounds.map(r => r.cpuMsPerConn))
    return [result]
  })
}

// ---------------------------------------------------------------------------------------------
// Revocation latency

interface Watched {
  closedAt: number | undefined
  readonly closed: Promise<void>
}

function watchClose (connection: Connection): Watched {
  const watched: { closedAt: number | undefined, closed: Promise<void> } = { closedAt: undefined, closed: Promise.resolve() }
  watched.closed = new Promise<void>(resolve => {
    connection.addEventListener('close', () => {
      watched.closedAt = performance.now()
      resolve()
    }, { once: true })
  })
  return watched
}

/** The listener's connections from `peers`, once it has admitted `count` of them (its side finishes after the dialer's). */
async function admittedOn (listener: FederationNode, peers: ReadonlySet<string>, count: number): Promise<Connection[]> {
  const deadline = performance.now() + REVOCATION_GIVE_UP_MS
  for (;;) {
    const admitted = new Set(listener.peers().map(p => p.peerId).filter(id => peers.has(id)))
    if (admitted.size >= count) return listener.libp2p.getConnections().filter(c => admitted.has(c.remotePeer.toString()))
    if (performance.now() > deadline) throw new Error(`listener admitted ${admitted.size} of ${count} connections`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

async function revocation (dir: string, config: Config, progress: (line: string) => void): Promise<RevocationResult> {
  const victims = Array.from({ length: config.reps }, (_, r) => `victim-${r + 1}`)
  const keepers = Array.from({ length: config.keepers }, (_, k) => `keeper-${k + 1}`)
  const fed = federation('rev-listener', [...victims, ...keepers], config.victims + 8)
  await mkdir(join(dir, 'listener'), { recursive: true })
  const rosterFile = join(dir, 'listener', 'roster.json')
  await writeText(rosterFile, fed.roster.encode())
  const listener = await fedgateNode(fed, 'rev-listener', 'Ed25519', { dataDir: join(dir, 'listener', 'data'), rosterFile }, true)
  const store = await sharedStore(join(dir, 'dialers'), fed.roster)
  const target = await tcpAddr(listener.getMultiaddrs())
  const keeperNodes: FederationNode[] = []
  const dialerSide: number[] = []
  const listenerSide: number[] = []
  const lastDialer: number[] = []
  const lastListener: number[] = []
  const applied: number[] = []
  let missedCloses = 0
  let keptClosed = 0
  let roster = fed.roster
  try {
    for (const id of keepers) keeperNodes.push(await fedgateNode(fed, id, 'Ed25519', store, false))
    const keptConnections = await Promise.all(keeperNodes.map(async n => n.dial(target)))
    for (const [rep, victim] of victims.entries()) {
      const nodes = await Promise.all(Array.from({ length: config.victims }, async () => fedgateNode(fed, victim, 'Ed25519', store, false)))
      try {
        const outbound = await Promise.all(nodes.map(async n => n.dial(target)))
        const dialerWatch = outbound.map(watchClose)
        const inbound = await admittedOn(listener, new Set(nodes.map(n => n.peerId)), config.victims)
        const listenerWatch = inbound.map(watchClose)
        roster = signBy2(revoke(roster, { member: victim }), fed.admins)
        const epoch = roster.epoch
        let appliedAt: number | undefined
        const onRoster = (evt: CustomEvent<{ epoch: number }>): void => { if (evt.detail.epoch === epoch) appliedAt = performance.now() }
        listener.gate.addEventListener('roster', onRoster)
        const { renameStart } = await writeAtomically(rosterFile, roster.encode())
        const all = [...dialerWatch, ...listenerWatch]
        await Promise.race([
          Promise.all(all.map(async w => w.closed)),
          new Promise<void>(resolve => setTimeout(resolve, REVOCATION_GIVE_UP_MS).unref())
        ])
        const collect = (watched: readonly Watched[], into: number[], last: number[]): void => {
          let latest = 0
          for (const w of watched) {
            if (w.closedAt === undefined) {
              missedCloses++
              continue
            }
            into.push(w.closedAt - renameStart)
            latest = Math.max(latest, w.closedAt - renameStart)
          }
          last.push(latest)
        }
        collect(dialerWatch, dialerSide, lastDialer)
        collect(listenerWatch, listenerSide, lastListener)
        listener.gate.removeEventListener('roster', onRoster)
        if (appliedAt !== undefined) applied.push(appliedAt - renameStart)
        keptClosed += keptConnections.filter(c => c.status !== 'open').length
        progress(`revocation ${rep + 1}/${config.reps}: last close ${lastDialer.at(-1)?.toFixed(1)} ms (dialer side), ${lastListener.at(-1)?.toFixed(1)} ms (listener side)`)
      } finally {
        await Promise.all(nodes.map(async n => n.stop()))
      }
    }
    // The other members' connections must survive every epoch, on both ends.
    const keeperPeers = new Set(keeperNodes.map(n => n.peerId))
    const keptOnListener = listener.libp2p.getConnections().filter(c => keeperPeers.has(c.remotePeer.toString()) && c.status === 'open').length
    keptClosed += keptConnections.length - keptOnListener
  } finally {
    await Promise.all([listener, ...keeperNodes].map(async n => n.stop()))
    await store.close()
  }
  const dialer = { all: distribution(dialerSide), lastClosed: distribution(lastDialer) }
  const listenerDist = { all: distribution(listenerSide), lastClosed: distribution(lastListener) }
  return {
    reps: config.reps,
    connectionsPerRep: config.victims,
    keptConnections: config.keepers,
    dialer,
    listener: listenerDist,
    rosterApplied: distribution(applied),
    missedCloses,
    keptClosed,
    targetP99Ms: REVOCATION_TARGET_P99_MS,
    pass: missedCloses === 0 && keptClosed === 0 && dialer.all.p99Ms <= REVOCATION_TARGET_P99_MS && listenerDist.all.p99Ms <= REVOCATION_TARGET_P99_MS
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function pad (cells: readonly string[][]): string {
  const widths = cells[0]?.map((_, c) => Math.max(...cells.map(row => (row[c] ?? '').length))) ?? []
  return cells.map(row => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)).join('  ').trimEnd()).join('\n')
}

const fmt = (n: number, digits = 1): string => Number.isFinite(n) ? n.toFixed(digits) : '-'

interface Ratio {
  name: string
  /** Ratio of median connections per second (wall clock). */
  value: number
  /** Ratio of connections per CPU-second (inverse CPU cost per connection). */
  byCpu: number
  target: number | null
}

function ratios (variants: readonly VariantResult[]): Ratio[] {
  const find = (name: VariantName): VariantResult | undefined => variants.find(v => v.name === name)
  const ratio = (name: string, a: VariantName, b: VariantName, target: number | null): Ratio[] => {
    const x = find(a)
    const y = find(b)
    if (x === undefined || y === undefined) return []
    return [{ name, value: x.medianConnPerSec / y.medianConnPerSec, byCpu: y.medianCpuMsPerConn / x.medianCpuMsPerConn, target }]
  }
  return [
    ...ratio('fedgate / bare libp2p', 'fedgate', 'bare', THROUGHPUT_TARGET_VS_BARE),
    ...ratio('fedgate / Node mTLS (stretch)', 'fedgate', 'mtls', THROUGHPUT_STRETCH_VS_MTLS),
    ...ratio('fedgate-secp256k1 / bare libp2p', 'fedgate-secp256k1', 'bare', null),
    ...ratio('fedgate / bare libp2p with the same crypto', 'fedgate', 'bare-nodecrypto', null)
  ]
}

function render (config: Config, variants: readonly VariantResult[], rev: RevocationResult | undefined): string {
  const lines = [
    `fedgate connection benchmark: node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} CPUs; listener and dialers in one process on 127.0.0.1`
  ]
  if (variants.length > 0) {
    lines.push(
      '',
      `1. authenticated connections/s: op = connect + 1 stream (4-byte request/echo) + close; ${config.concurrency} concurrent dialers from a pool of ${config.dialerPool} distinct keys;`,
      `   ${config.rounds} interleaved round(s) of ${config.seconds} s after a ${config.warmupSeconds} s warmup; median of rounds`,
      pad([
        ['variant', ...variants[0]?.rounds.map((_, i) => `round ${i + 1}`) ?? [], 'median conn/s', 'CPU ms/conn', 'conn/CPU-s', 'errors'],
        ...variants.map(v => [
          v.name, ...v.rounds.map(r => fmt(r.connPerSec)), fmt(v.medianConnPerSec), fmt(v.medianCpuMsPerConn, 2), fmt(1000 / v.medianCpuMsPerConn),
          String(v.rounds.reduce((n, r) => n + r.errors, 0))
        ])
      ])
    )
    for (const v of variants) if (v.firstError !== undefined) lines.push(`   first error in ${v.name}: ${v.firstError}`)
    const rs = ratios(variants)
    if (rs.length > 0) {
      const verdict = (value: number, target: number | null): string => target === null ? '-' : value >= target ? 'PASS' : 'MISS'
      lines.push('', pad([
        ['ratio', 'conn/s', 'result', 'by CPU cost', 'result', 'target'],
        ...rs.map(r => [
          r.name, `${fmt(r.value, 2)}x`, verdict(r.value, r.target), `${fmt(r.byCpu, 2)}x`, verdict(r.byCpu, r.target), r.target === null ? '-' : `>= ${fmt(r.target, 2)}x`
        ])
      ]), '   conn/s = ratio of median wall-clock rates; by CPU cost = ratio of connections per CPU-second of this process (steadier on a busy machine)')
    }
    lines.push('', ...variants.map(v => `   ${v.name}: ${v.label}`))
  }
  if (rev !== undefined) {
    const row = (side: string, d: Distribution): string[] => [side, String(d.samples), fmt(d.p50Ms), fmt(d.p99Ms), fmt(d.maxMs)]
    lines.push(
      '',
      `2. revocation latency: ${rev.reps} repetition(s); each: ${rev.connectionsPerRep} admitted connections of one member (+${rev.keptConnections} of other members),`,
      '   a roster epoch revoking that member (signed 2-of-3) renamed over the listener\'s roster file; ms from the rename to each connection\'s close event',
      pad([
        ['close event', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
        row('dialer side, every connection', rev.dialer.all),
        row('listener side, every connection', rev.listener.all),
        row('dialer side, last-closed per rep', rev.dialer.lastClosed),
        row('listener side, last-closed per rep', rev.listener.lastClosed),
        row('listener accepted the epoch', rev.rosterApplied)
      ]),
      `   missed closes (still open after ${REVOCATION_GIVE_UP_MS} ms): ${rev.missedCloses}; other members' connections closed: ${rev.keptClosed} (of ${rev.keptConnections}, expected 0)`,
      `   target p99 <= ${rev.targetP99Ms} ms on both sides, nothing missed, others kept: ${rev.pass ? 'PASS' : 'MISS'}`
    )
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Entry point

function parseConfig (): { config: Config, json: boolean } {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string' },
      variants: { type: 'string' },
      reps: { type: 'string' },
      profile: { type: 'string' }
    }
  })
  const base = values.quick ? QUICK : FULL
  const positive = (value: string | undefined, fallback: number, option: string, min = 1): number => {
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isFinite(n) || n < min) throw new Error(`--${option} must be a number >= ${min}`)
    return n
  }
  const variants = values.variants === undefined ? [...VARIANTS] : values.variants.split(',').filter(v => v !== '')
  for (const v of variants) {
    if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`--variants: unknown variant ${JSON.stringify(v)} (known: ${VARIANTS.join(', ')})`)
  }
  const concurrency = Math.round(positive(values.concurrency, base.concurrency, 'concurrency'))
  return {
    json: values.json,
    config: {
      ...base,
      rounds: Math.round(positive(values.rounds, base.rounds, 'rounds')),
      seconds: positive(values.seconds, base.seconds, 'seconds', 0.1),
      concurrency,
      dialerPool: Math.max(base.dialerPool, concurrency),
      reps: Math.round(positive(values.reps, base.reps, 'reps', 0)),
      variants: variants.filter((v): v is VariantName => (VARIANTS as readonly string[]).includes(v)),
      profileDir: values.profile
    }
  }
}

async function main (): Promise<void> {
  const { config, json } = parseConfig()
  const progress = (line: string): void => { if (!json) process.stderr.write(`${line}\n`) }
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-bench-conn-'))
  const interrupted = (): void => {
    rmSync(dir, { recursive: true, force: true })
    process.exit(130)
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    const variants = config.variants.length > 0 ? await throughput(join(dir, 'throughput'), config, progress) : []
    const rev = config.reps > 0 ? await revocation(join(dir, 'revocation'), config, progress) : undefined
    if (json) {
      process.stdout.write(JSON.stringify({
        node: process.version,
        platform: `${process.platform}/${process.arch}`,
        cpus: availableParallelism(),
        config,
        throughput: variants,
        ratios: ratios(variants),
        revocation: rev ?? null
      }, null, 2) + '\n')
    } else {
      process.stdout.write(render(config, variants, rev) + '\n')
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
