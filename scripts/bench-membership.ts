/**
 * Membership benchmark: roster load / verify at 1k, 10k and 100k members, and credential verify
 * throughput (cold with noble, cold with native OpenSSL, cached).
 *
 *   node scripts/bench-membership.ts [--quick] [--json] [--reps N] [--profile DIR]
 *
 * Each measurement runs in a fresh child process (this file with `--worker`), so its peak RSS is
 * its own. Each child runs one warmup and reports the median of `--reps` repetitions; the roster
 * child also reports its first run, which is what a node pays when it starts.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { secp256k1 as secp } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import {
  Credential, CredentialVerifier, Roster, acceptRoster, generateSigningKey, issueCredential, signRoster,
  verifyCredential, verifyNative, verifyNoble, type Member, type Revocation, type SignatureVerifier, type SigningKey
} from '../membership/index.ts'
import { generateNodeKey } from '../node/node-key.ts'

const SCRIPT = fileURLToPath(import.meta.url)
const MB = 1024 * 1024

/** Roster load + verify targets, by member count. */
const ROSTER_TARGET_MS: Readonly<Record<number, number>> = { 10_000: 300, 100_000: 3_000 }
const COLD_TARGET_OPS = 1_500
const CACHED_TARGET_OPS = 100_000

const FULL = { sizes: [1_000, 10_000, 100_000], reps: 5, credentials: 2_000, members: 20, nodes: 200, cachedMinMs: 300 }
const QUICK = { sizes: [200], reps: 1, credentials: 40, members: 4, nodes: 8, cachedMinMs: 20 }

interface RosterResult {
  members: number
  fileBytes: number
  loadMs: number
  verifyMs: number
  totalMs: number
  firstTotalMs: number
  peakRssBytes: number
  rssGrowthBytes: number
  retainedHeapBytes: number
  targetMs: number | null
  pass: boolean | null
}

interface RateResult {
  opsPerSec: number
  targetOpsPerSec: number
  pass: boolean
}

interface CredentialResult {
  pool: number
  members: number
  coldNoble: RateResult
  coldNative: RateResult
  cached: RateResult
  nativeOverNoble: number
}

// ---------------------------------------------------------------------------------------------
// Roster fixture

/** Deterministic base58 text, for PeerIds in addresses and revocations (format-valid, not keys). */
function fakePeerId (n: number): string {
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  let out = '12D3KooW'
  let rest = n
  for (let i = 0; i < 8; i++) {
    out += alphabet[rest % 58]
    rest = Math.floor(rest / 58)
  }
  let x = n + 1
  for (let i = 0; i < 36; i++) {
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9 | 0
    out += alphabet[(x >>> 8) % 58]
  }
  return out
}

/** `count` distinct compressed secp256k1 keys: P, P+G, P+2G, … (one addition each, no keygen). */
function distinctMemberKeys (count: number): string[] {
  const keys: string[] = []
  let point = secp.Point.BASE.multiply(BigInt('0x' + bytesToHex(secp.utils.randomSecretKey())))
  for (let i = 0; i < count; i++) {
    point = point.add(secp.Point.BASE)
    keys.push(bytesToHex(point.toBytes(true)))
  }
  return keys
}

function fixtureMember (i: number, key: string): Member {
  const id = `member-${String(i).padStart(6, '0')}`
  const kind = i % 20
  const roles = kind < 2 ? ['validator'] : kind < 3 ? ['validator', 'full-node'] : kind < 4 ? ['relayer'] : kind < 15 ? ['full-node'] : ['light-client']
  const member: { -readonly [K in keyof Member]: Member[K] } = { id, org: `org-${i % 997}`, roles, key }
  if (!roles.includes('light-client')) {
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    member.addrs = [`/ip4/${ip}/tcp/4001/p2p/${fakePeerId(i)}`]
    if (kind < 3) member.addrs = [...member.addrs, `/dns4/${id}.example.net/tcp/4001/p2p/${fakePeerId(i)}`]
  }
  if (kind === 0) member.maxConnections = 16
  return member
}

/** A signed roster (3 admins, threshold 2, signed by 2) with `count` members and ~1 % revocations. */
function buildRoster (count: number, admins: readonly SigningKey[], keys: readonly string[]): Roster {
  const members = keys.map((key, i) => fixtureMember(i, key))
  const revoked: Revocation[] = []
  for (let i = 0; i < Math.max(3, Math.floor(count / 100)); i++) {
    if (i % 3 === 0) revoked.push({ member: `member-old-${i}` })
    else if (i % 3 === 1) revoked.push({ peer: fakePeerId(count + i) })
    else revoked.push({ credential: bytesToHex(secp.utils.randomSecretKey()) })
  }
  let roster = Roster.fromJSON({
    federation: 'bench-fed',
    epoch: 1,
    issuedAt: '2026-11-29T00:00:00Z',
    roles: ['validator', 'relayer', 'full-node', 'light-client'],
    admins: { threshold: 2, keys: admins.map(a => a.publicKey) },
    members,
    revoked,
    policy: {
      protocols: {
        '/chain/consensus/1.0.0': ['validator'],
        '/chain/bridge/1.0.0': ['validator', 'relayer'],
        '/chain/headers/1.0.0': ['validator', 'full-node', 'light-client']
      },
      accepts: {
        'validator': ['validator', 'relayer', 'full-node'],
        'full-node': ['validator', 'full-node', 'relayer', 'light-client']
      },
      credentialMaxTtl: '7d',
      clockSkew: '60s'
    },
    signatures: []
  })
  for (const admin of admins.slice(0, 2)) roster = signRoster(roster, admin)
  return roster
}

// ---------------------------------------------------------------------------------------------
// Workers (one per child process)

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

function gc (): void {
  if (typeof globalThis.gc === 'function') globalThis.gc()
}

/** Read + parse (load), then acceptRoster as genesis (verify), on a fresh Roster each run. */
async function rosterWorker (file: string, reps: number): Promise<Omit<RosterResult, 'members' | 'targetMs' | 'pass'>> {
  gc()
  const baseRss = process.memoryUsage().rss
  const baseHeap = process.memoryUsage().heapUsed
  const load: number[] = []
  const verify: number[] = []
  const total: number[] = []
  let peakRssBytes = 0
  let kept: Roster | undefined
  for (let run = 0; run <= reps; run++) {
    kept = undefined
    const t0 = performance.now()
    const roster = Roster.parse(await readFile(file, 'utf8'))
    const t1 = performance.now()
    acceptRoster(null, roster)
    const t2 = performance.now()
    if (run === 0) peakRssBytes = process.resourceUsage().maxRSS * 1024
    load.push(t1 - t0)
    verify.push(t2 - t1)
    total.push(t2 - t0)
    kept = roster
  }
  gc()
  const retainedHeapBytes = process.memoryUsage().heapUsed - baseHeap
  if (kept === undefined) throw new Error('no roster loaded')
  return {
    fileBytes: (await stat(file)).size,
    loadMs: median(load.slice(1)),
    verifyMs: median(verify.slice(1)),
    totalMs: median(total.slice(1)),
    firstTotalMs: total[0] ?? 0,
    peakRssBytes,
    rssGrowthBytes: peakRssBytes - baseRss,
    retainedHeapBytes
  }
}

/** Ops per second of `op` over `count` operations, median of `reps` after one warmup. */
function rate (reps: number, count: number, op: (i: number) => void): number {
  const rates: number[] = []
  for (let run = 0; run <= reps; run++) {
    const t0 = performance.now()
    for (let i = 0; i < count; i++) op(i)
    const elapsed = performance.now() - t0
    if (run > 0) rates.push(count / (elapsed / 1000))
  }
  return median(rates)
}

async function credentialWorker (reps: number, poolSize: number, memberCount: number, nodeCount: number, cachedMinMs: number): Promise<CredentialResult> {
  const admins = [generateSigningKey('admin'), generateSigningKey('admin'), generateSigningKey('admin')]
  const memberKeys = Array.from({ length: memberCount }, () => generateSigningKey('member'))
  const roster = buildRoster(memberCount, admins, memberKeys.map(k => k.publicKey))
  const nodes = await Promise.all(Array.from({ length: nodeCount }, async () => await generateNodeKey()))
  const now = Date.now()
  const pool = Array.from({ length: poolSize }, (_, i) => {
    const m = i % memberCount
    const memberKey = memberKeys[m]
    const member = roster.document.members[m]
    const node = nodes[i % nodeCount]
    if (memberKey === undefined || member === undefined || node === undefined) throw new Error('fixture out of range')
    const credential = issueCredential({ roster, memberKey, memberId: member.id, peer: node.peerId, serial: `bench-${i}`, now: now - 60_000 })
    return { bytes: Buffer.from(credential.encode()), peer: node.peerId, credential }
  })
  const cold = (verify: SignatureVerifier) => (i: number): void => {
    const entry = pool[i]
    if (entry === undefined) throw new Error('pool out of range')
    const verdict = verifyCredential(Credential.decode(entry.bytes), entry.peer, roster, now, verify)
    if (verdict !== null) throw new Error(`benchmark credential refused: ${verdict}`)
  }
  const noble = rate(reps, pool.length, cold(verifyNoble))
  const native = rate(reps, pool.length, cold(verifyNative))

  const verifier = new CredentialVerifier()
  for (const { credential, peer } of pool) {
    if (verifier.verify(credential, peer, roster, now) !== null) throw new Error('benchmark credential refused')
  }
  const cachedOp = (i: number): void => {
    const entry = pool[i % pool.length]
    if (entry === undefined || verifier.verify(entry.credential, entry.peer, roster, now) !== null) throw new Error('benchmark credential refused')
  }
  let cachedCount = pool.length
  for (;;) {
    const t0 = performance.now()
    for (let i = 0; i < cachedCount; i++) cachedOp(i)
    if (performance.now() - t0 >= cachedMinMs) break
    cachedCount *= 2
  }
  const cached = rate(reps, cachedCount, cachedOp)
  const result = (opsPerSec: number, targetOpsPerSec: number): RateResult => ({ opsPerSec, targetOpsPerSec, pass: opsPerSec >= targetOpsPerSec })
  return {
    pool: pool.length,
    members: memberCount,
    coldNoble: result(noble, COLD_TARGET_OPS),
    coldNative: result(native, COLD_TARGET_OPS),
    cached: result(cached, CACHED_TARGET_OPS),
    nativeOverNoble: native / noble
  }
}

// ---------------------------------------------------------------------------------------------
// Parent: fixtures, children, table

async function runChild (args: readonly string[], profileDir: string | undefined): Promise<unknown> {
  const execArgs = ['--expose-gc', ...(profileDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), SCRIPT, ...args]
  const child = spawn(process.execPath, execArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { out += chunk })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  if (code !== 0) throw new Error(`benchmark worker ${args.join(' ')} exited with ${code}`)
  return JSON.parse(out)
}

function pad (cells: readonly string[][]): string {
  const widths = cells[0]?.map((_, c) => Math.max(...cells.map(row => (row[c] ?? '').length))) ?? []
  return cells.map(row => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)).join('  ').trimEnd()).join('\n')
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const verdict = (pass: boolean | null): string => pass === null ? '-' : pass ? 'PASS' : 'MISS'

function render (rosters: readonly RosterResult[], creds: CredentialResult, reps: number): string {
  const rosterRows = [
    ['members', 'file MB', 'load ms', 'verify ms', 'total ms', 'first run ms', 'peak RSS MB', 'RSS growth MB', 'heap kept MB', 'target ms', 'result'],
    ...rosters.map(r => [
      fmt(r.members), fmt(r.fileBytes / MB, 1), fmt(r.loadMs, 1), fmt(r.verifyMs, 1), fmt(r.totalMs, 1), fmt(r.firstTotalMs, 1),
      fmt(r.peakRssBytes / MB), fmt(r.rssGrowthBytes / MB), fmt(r.retainedHeapBytes / MB, 1),
      r.targetMs === null ? '-' : `<= ${fmt(r.targetMs)}`, verdict(r.pass)
    ])
  ]
  const rateRow = (name: string, r: RateResult): string[] => [name, fmt(r.opsPerSec), fmt(1e6 / r.opsPerSec, 1), `>= ${fmt(r.targetOpsPerSec)}`, verdict(r.pass)]
  const credRows = [
    ['credential verify', 'ops/s', 'us/op', 'target', 'result'],
    rateRow('cold, noble (decode + verify)', creds.coldNoble),
    rateRow('cold, native (decode + verify)', creds.coldNative),
    rateRow('cached (CredentialVerifier)', creds.cached)
  ]
  return [
    `fedgate membership benchmark: node ${process.version}, ${process.platform}/${process.arch}, median of ${reps} run(s) after 1 warmup, one child process per row`,
    '',
    'roster: load = read file + Roster.parse; verify = acceptRoster(null, roster); total = load + verify',
    pad(rosterRows),
    '',
    `credentials: pool of ${fmt(creds.pool)} distinct credentials from ${creds.members} members; cold = Credential.decode(bytes) + verifyCredential`,
    pad(credRows),
    `native/noble: ${fmt(creds.nativeOverNoble, 1)}x`
  ].join('\n')
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      reps: { type: 'string' },
      profile: { type: 'string' },
      worker: { type: 'string' },
      file: { type: 'string' },
      pool: { type: 'string' },
      members: { type: 'string' },
      nodes: { type: 'string' },
      'cached-min-ms': { type: 'string' }
    }
  })
  const config = values.quick ? QUICK : FULL
  const reps = values.reps !== undefined ? Number(values.reps) : config.reps
  if (!Number.isSafeInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer')

  if (values.worker === 'roster') {
    if (values.file === undefined) throw new Error('--worker roster needs --file')
    process.stdout.write(JSON.stringify(await rosterWorker(values.file, reps)))
    return
  }
  if (values.worker === 'credentials') {
    const result = await credentialWorker(reps, Number(values.pool), Number(values.members), Number(values.nodes), Number(values['cached-min-ms']))
    process.stdout.write(JSON.stringify(result))
    return
  }
  if (values.worker !== undefined) throw new Error(`unknown --worker ${values.worker}`)

  const dir = await mkdtemp(join(tmpdir(), 'fedgate-bench-'))
  try {
    const admins = [generateSigningKey('admin'), generateSigningKey('admin'), generateSigningKey('admin')]
    const largest = Math.max(...config.sizes)
    const keys = distinctMemberKeys(largest)
    const rosters: RosterResult[] = []
    for (const members of config.sizes) {
      const file = join(dir, `roster-${members}.json`)
      await writeFile(file, buildRoster(members, admins, keys.slice(0, members)).encode())
      const measured = await runChild(['--worker', 'roster', '--file', file, '--reps', String(reps)], values.profile) as Omit<RosterResult, 'members' | 'targetMs' | 'pass'>
      const targetMs = ROSTER_TARGET_MS[members] ?? null
      rosters.push({ members, ...measured, targetMs, pass: targetMs === null ? null : measured.totalMs <= targetMs })
      await rm(file)
    }
    const creds = await runChild([
      '--worker', 'credentials', '--reps', String(reps), '--pool', String(config.credentials), '--members', String(config.members),
      '--nodes', String(config.nodes), '--cached-min-ms', String(config.cachedMinMs)
    ], values.profile) as CredentialResult
    if (values.json) {
      process.stdout.write(JSON.stringify({ node: process.version, platform: `${process.platform}/${process.arch}`, reps, roster: rosters, credentials: creds }, null, 2) + '\n')
    } else {
      process.stdout.write(render(rosters, creds, reps) + '\n')
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
