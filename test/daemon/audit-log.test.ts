import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { revoke, type Roster } from '../../membership/index.ts'
import { ADMIN_ADDR_FILE, LISTEN_ADDRS_FILE, type StatusDocument } from '../../node/daemon/index.ts'
import { eventually, Federation, FedgateProcess, HOUR_MS } from './federation.ts'

/** The last line of the startup summary: once it is on stderr, the node is up. */
const STARTED = /^ {2}data dir .*$/m
const REMOTE_ADDR = /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/

/** One audit log line: every line is one JSON object. */
type AuditLine = Readonly<Record<string, unknown>> & { readonly event: string }

async function auditLines (file: string): Promise<AuditLine[]> {
  const text = await readFile(file, 'utf8')
  // A line still being written (no newline yet) is left for the next read.
  return text.split('\n').slice(0, -1).map(line => {
    const parsed = JSON.parse(line) as AuditLine
    assert.equal(typeof parsed.event, 'string', `an audit line without an event: ${line}`)
    return parsed
  })
}

const matches = (line: AuditLine, fields: Readonly<Record<string, unknown>>): boolean =>
  Object.entries(fields).every(([key, value]) => line[key] === value)

/**
 * Two daemons, val-a and val-b (which dials val-a), each writing its audit log to a file, and a
 * stock libp2p node. Every event the operator relies on appears exactly once, with the fields
 * that say who, where and why.
 */
describe('audit log: one JSON line per event, with its reason code', { timeout: 120_000 }, () => {
  let dir: string
  let fed: Federation
  let intruder: Libp2p | undefined
  const spawned: FedgateProcess[] = []
  const logOf = (id: string): string => join(dir, `${id}.audit.log`)
  const peerIdOf = (id: string): string => fed.member(id).nodeKey.peerId
  let adminA: string
  let epoch1: Roster
  let listenA: string[]

  /** Waits until `id`'s log holds a line with `fields`, then returns every such line. */
  const linesWith = async (id: string, fields: Readonly<Record<string, unknown>>): Promise<AuditLine[]> =>
    await eventually(async () => {
      const found = (await auditLines(logOf(id))).filter(l => matches(l, fields))
      return found.length > 0 ? found : undefined
    })

  /** Every event checked so far, to check again at the end that none was logged a second time. */
  const checked: Array<readonly [string, Readonly<Record<string, unknown>>]> = []

  /** The one line in `id`'s log with `fields`; fails if the event was logged twice. */
  const theLine = async (id: string, fields: Readonly<Record<string, unknown>>): Promise<AuditLine> => {
    checked.push([id, fields])
    const found = await linesWith(id, fields)
    assert.equal(found.length, 1, `expected one ${JSON.stringify(fields)} line in ${id}'s log, found:\n${found.map(l => JSON.stringify(l)).join('\n')}`)
    return found[0] as AuditLine
  }

  const start = async (id: string, extra: Record<string, unknown> = {}): Promise<void> => {
    const process = new FedgateProcess(['node', 'start', '--config', await fed.writeConfig(id, fed.configOf(id, extra))])
    spawned.push(process)
    await process.waitForStderr(STARTED)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-audit-'))
    fed = await Federation.create(dir, [
      { id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS },
      { id: 'val-b', roles: ['validator'], ttlMs: 48 * HOUR_MS }
    ])
    await start('val-a')
    adminA = (await readFile(join(dir, 'data-val-a', ADMIN_ADDR_FILE), 'utf8')).trim()
    listenA = (await readFile(join(dir, 'data-val-a', LISTEN_ADDRS_FILE), 'utf8')).trim().split('\n')
    await start('val-b', { dial: listenA })
    await eventually(async () => {
      const status = await (await fetch(`http://${adminA}/status`)).json() as StatusDocument
      return status.peers.length === 1 ? true : undefined
    })
  }, { timeout: 90_000 })

  after(async () => {
    await intruder?.stop()
    await Promise.all(spawned.map(async p => p.stop('SIGKILL')))
    await rm(dir, { recursive: true, force: true })
  })

  it('admission: reason ok, with the PeerId, member id and remote address of the admitted peer', async () => {
    const line = await theLine('val-a', { event: 'admission', peerId: peerIdOf('val-b') })
    assert.equal(line.reason, 'ok')
    assert.equal(line.memberId, 'val-b')
    assert.equal(line.direction, 'inbound')
    assert.match(String(line.remoteAddr), REMOTE_ADDR)
    const outbound = await theLine('val-b', { event: 'admission', peerId: peerIdOf('val-a') })
    assert.deepEqual([outbound.reason, outbound.memberId, outbound.direction], ['ok', 'val-a', 'outbound'])
  })

  it('refusal: a stock libp2p node is refused with no-credential, logged with its PeerId and address', async () => {
    const stock = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    intruder = stock
    const target = listenA.find(a => a.includes('/p2p/')) ?? `${listenA[0] ?? ''}/p2p/${peerIdOf('val-a')}`
    // The dial itself may look fine on the stock node's side (its upgrade can finish before val-a
    // refuses it); what counts is what val-a did and logged.
    await stock.dial(multiaddr(target), { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    const line = await theLine('val-a', { event: 'refusal', peerId: stock.peerId.toString() })
    assert.equal(line.reason, 'no-credential')
    assert.equal(line.by, 'local')
    assert.match(String(line.remoteAddr), REMOTE_ADDR)
  })

  it('credential-renewal: a rewritten credential file is applied by its node and pushed to the peer, one line each', async () => {
    const b = fed.member('val-b')
    const fresh = join(dir, 'val-b.credential.json.new')
    await fed.writeCredential(b, 47 * HOUR_MS, fresh)
    await rename(fresh, b.credentialFile)
    const local = await theLine('val-b', { event: 'credential-renewal', local: true })
    assert.deepEqual([local.reason, local.memberId, local.peerId], ['ok', 'val-b', peerIdOf('val-b')])
    const remote = await theLine('val-a', { event: 'credential-renewal', local: false })
    assert.deepEqual([remote.reason, remote.memberId, remote.peerId, remote.credential], ['ok', 'val-b', peerIdOf('val-b'), local.credential])
  })

  it('roster-refused: an under-signed epoch in the roster file, with its reason code, once per node', async () => {
    epoch1 = fed.roster
    await fed.writeRoster(fed.nextEpoch(r => revoke(r, { member: 'val-b' }), 1))
    for (const id of ['val-a', 'val-b']) {
      const line = await theLine(id, { event: 'roster-refused', epoch: 2 })
      assert.equal(line.reason, 'threshold-not-met')
      assert.equal(line.keptEpoch, 1)
    }
  })

  it('roster-accepted and disconnect: a signed epoch revoking val-b, and val-a dropping it as revoked', async () => {
    await fed.writeRoster(fed.nextEpoch(r => revoke(r, { member: 'val-b' }), 2, epoch1))
    const accepted = await theLine('val-a', { event: 'roster-accepted', epoch: 2 })
    assert.equal(accepted.reason, 'ok')
    assert.equal(accepted.previousEpoch, 1)
    assert.deepEqual(accepted.drops, ['val-b'])
    const disconnect = await theLine('val-a', { event: 'disconnect', peerId: peerIdOf('val-b') })
    assert.deepEqual([disconnect.reason, disconnect.memberId], ['revoked', 'val-b'])
    assert.match(String(disconnect.remoteAddr), REMOTE_ADDR)
  })

  it('each of those events is still in the logs exactly once', async () => {
    assert.ok(checked.length >= 8)
    for (const [id, fields] of [...checked]) await theLine(id, fields)
  })
})
