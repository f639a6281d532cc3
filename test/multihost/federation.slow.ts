import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect, type AddressInfo, type Server } from 'node:net'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { revoke, Roster } from '../../membership/index.ts'
import { counterSum, DaemonProcess, FEDGATE_SCRIPT } from '../../node/bench/daemon-process.ts'
import { DelayProxy } from '../../node/bench/delay-proxy.ts'
import { startFlooder, startProber, type Flooder } from '../../node/bench/flood/agents.ts'
import type { FloodCounts } from '../../node/bench/flood/flooder.ts'
import { LAB_PORT, LabFederation } from '../../node/bench/lab-federation.ts'
import { NetnsLab, skipNetns, SKIP_NETNS_ENV } from '../../node/bench/netns.ts'
import { distribution } from '../../node/bench/stats.ts'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
const VALIDATORS = ['val-1', 'val-2', 'val-3', 'val-4'] as const
/** The one-way delay the proxy adds: 50 ms round trips. */
const ONE_WAY_MS = 25
/** The flood ends by itself after this long if the test has not ended it. */
const FLOOD_BOUND_MS = 120_000
/** What refusing a flood of stock identities records: a cut at accept, a banned address, no credential. */
const FLOOD_CODES = new Set(['rate-limited', 'banned', 'no-credential'])

/** Polls `check` every `intervalMs` until it returns a value other than undefined. */
async function until<T> (what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${explain === undefined ? '' : `; ${await explain().catch(String)}`}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** The IP of a `/ip4/A.B.C.D/tcp/N` address. */
function ipOf (addr: string): string | undefined {
  return /^\/ip4\/([\d.]+)\//.exec(addr)?.[1]
}

/**
 * Five hosts, each its own network namespace with its own IP on one bridge, and a federation across
 * them run as `fedgate node start` processes: validators val-1…val-4 on h1…h4, full nodes fn-2
 * (on h2, beside val-2) and fn-5 (on h5, the host that floods), and a member that only probes
 * admission. Each node has its own roster file: an epoch reaches a host over the network or not at all.
 */
describe('multi-host: a federation across five network namespaces', { skip: skipNetns() ? `${SKIP_NETNS_ENV}=1 and this machine has no network namespaces` : false, timeout: 170_000 }, () => {
  let lab: NetnsLab
  let dir: string
  let fed: LabFederation
  const daemons = new Map<string, DaemonProcess>()
  let flooder: Flooder | undefined
  let proxy: DelayProxy | undefined
  const daemon = (id: string): DaemonProcess => {
    const d = daemons.get(id)
    assert.ok(d !== undefined, `${id} is not running`)
    return d
  }
  const start = async (id: string, host: string, dial: readonly string[] = []): Promise<DaemonProcess> => {
    const d = await DaemonProcess.start(lab, lab.host(host), id, await fed.writeDaemonConfig(id, dial))
    daemons.set(id, d)
    return d
  }

  before(async () => {
    // Fails with what the machine lacks (root, Linux, iproute2) unless FEDGATE_SKIP_NETNS=1 skipped the suite.
    lab = await NetnsLab.create(5, 'the multi-host suite (test/multihost)')
    dir = await mkdtemp(join(tmpdir(), 'fedgate-multihost-'))
    const ip = (h: string): string => lab.host(h).ip
    fed = await LabFederation.create(dir, {
      federation: 'multihost-fed',
      members: [
        ...VALIDATORS.map((id, i) => ({ id, roles: ['validator'], org: `org-${i + 1}`, ip: ip(`h${i + 1}`) })),
        { id: 'fn-2', roles: ['full-node'], org: 'org-2', ip: ip('h2'), port: LAB_PORT + 1 },
        { id: 'fn-5', roles: ['full-node'], org: 'org-5', ip: ip('h5') },
        { id: 'probe', roles: ['full-node'], org: 'org-5' }
      ],
      protocols: { '/chain/consensus/1.0.0': ['validator'] }
    })
    await Promise.all(VALIDATORS.map(async (id, i) => await start(id, `h${i + 1}`)))
  }, { timeout: 60_000 })

  after(async () => {
    await flooder?.stop()
    await proxy?.close()
    await Promise.all([...daemons.values()].map(async d => { await d.stop() }))
    await lab?.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('the validators form a full mesh from the roster alone, each peer seen at its own host\'s IP', async () => {
    const meshed = await until('the validator mesh', async () => {
      const views = await Promise.all(VALIDATORS.map(async id => await daemon(id).status()))
      return views.every(v => v.peers.length === VALIDATORS.length - 1) ? views : undefined
    })
    for (const [i, view] of meshed.entries()) {
      assert.deepEqual(view.peers.map(p => p.memberId).sort(), VALIDATORS.filter((_, j) => j !== i))
      for (const peer of view.peers) {
        const host = lab.hosts[VALIDATORS.indexOf(peer.memberId as typeof VALIDATORS[number])]
        // An inbound connection comes from the dialer's own IP; an outbound one goes to the roster address.
        assert.equal(ipOf(peer.remoteAddr), host?.ip, `${view.memberId} sees ${peer.memberId} at its host's IP`)
      }
    }
  })

  it('a flood from h5: a member on another host (h2) and a member on the flooding host (h5) both join val-1 during it', async (t) => {
    const victim = daemon('val-1')
    const h5 = lab.host('h5')
    flooder = await startFlooder(lab, h5, 48)
    const flood = flooder
    const counts = async (): Promise<FloodCounts> => await flood.call('counts')
    await flood.call('flood', { target: fed.addr('val-1'), durationMs: FLOOD_BOUND_MS, maxAttempts: 1_000_000 })
    // The flood is on: val-1 is refusing h5's identities.
    await until('val-1 to refuse the flood', async () => counterSum(await victim.metrics(), 'fedgate_handshakes_total', { direction: 'inbound', result: 'refused' }) >= 50 ? true : undefined)
    const refusedBefore = (await counts()).refused
    await Promise.all([start('fn-2', 'h2', [fed.addr('val-1')]), start('fn-5', 'h5', [fed.addr('val-1')])])
    const startedAt = Date.now()
    const joined = await until('fn-2 and fn-5 to be admitted at val-1', async () => {
      const status = await victim.status()
      const fns = status.peers.filter(p => p.memberId.startsWith('fn-'))
      return fns.length === 2 ? status : undefined
    }, 60_000)
    const during = await counts()
    t.diagnostic(`both members admitted at val-1 within ${Date.now() - startedAt} ms of their daemons' start, during a flood of ${during.attempts} attempts so far`)
    assert.ok(during.elapsedMs < FLOOD_BOUND_MS && during.refused > refusedBefore, 'the flood was still on when both members got in')
    const byMember = new Map(joined.peers.map(p => [p.memberId, p]))
    assert.equal(ipOf(byMember.get('fn-2')?.remoteAddr ?? ''), lab.host('h2').ip, 'fn-2 came from h2')
    assert.equal(ipOf(byMember.get('fn-5')?.remoteAddr ?? ''), h5.ip, 'fn-5 came from the flooding IP')
    // Per-IP limits fall on the flooding address only.
    assert.deepEqual(joined.bans.map(b => b.ip), [h5.ip], 'the flooding IP is banned, and only it')
    const floodRefusals = joined.refusals.filter(r => FLOOD_CODES.has(r.code))
    assert.ok(floodRefusals.length > 0 && floodRefusals.every(r => ipOf(r.remoteAddr ?? '') === h5.ip), `the flood's refusals all fall on h5: ${JSON.stringify(floodRefusals.filter(r => ipOf(r.remoteAddr ?? '') !== h5.ip))}`)

    const totals = await flood.call('end')
    assert.equal(totals.admitted, 0, 'no Sybil was admitted')
    assert.ok(totals.refused >= during.refused && totals.attempts > 0)
    const after = await until('val-1 to settle after the flood', async () => {
      const status = await victim.status()
      return status.pending.pending === 0 ? status : undefined
    }, 30_000)
    assert.deepEqual([...new Set(after.peers.map(p => p.memberId))].sort(), ['fn-2', 'fn-5', 'val-2', 'val-3', 'val-4'], 'only members hold connections')
  })

  it('cutting h3\'s link makes the other hosts report val-3 gone; restoring it, their reserved-peer dials reach it again', async () => {
    const others = ['val-1', 'val-2', 'val-4'].map(daemon)
    const pids = others.map(d => d.pid)
    await lab.setLink(lab.host('h3'), false)
    const gone = await until('val-3 gone everywhere', async () => {
      const views = await Promise.all(others.map(async d => await d.status()))
      return views.every(v => !v.peers.some(p => p.memberId === 'val-3')) ? views : undefined
    }, 90_000, 500)
    for (const view of gone) {
      const reserved = view.reserved.find(r => r.memberId === 'val-3')
      assert.ok(reserved !== undefined && !reserved.connected, `${view.memberId} reports val-3 down`)
    }
    await lab.setLink(lab.host('h3'), true)
    await until('val-3 back everywhere', async () => {
      const views = await Promise.all([...others, daemon('val-3')].map(async d => await d.peers()))
      return views.slice(0, 3).every(peers => peers.includes('val-3')) && VALIDATORS.every(v => v === 'val-3' || views[3]?.includes(v) === true) ? true : undefined
    }, 60_000, 500)
    assert.deepEqual(others.map(d => d.pid), pids, 'no node was restarted')
  })

  it('a revocation published to one host reaches every host and drops the member everywhere', async () => {
    const epochFile = join(dir, 'epoch-2.json')
    await fed.writeEpoch(epochFile, r => revoke(r, { member: 'val-4' }))
    const publish = await run(process.execPath, [FEDGATE_SCRIPT, 'roster', 'publish', epochFile, '--admin', daemon('val-2').admin])
    assert.match(publish.stdout, /epoch 2 accepted/)
    const holders = ['val-1', 'val-2', 'val-3', 'fn-2', 'fn-5']
    await until('epoch 2 everywhere, without val-4', async () => {
      const views = await Promise.all(holders.map(async id => await daemon(id).status()))
      return views.every(v => v.rosterEpoch === 2 && !v.peers.some(p => p.memberId === 'val-4')) ? true : undefined
    }, 60_000, 200, async () => JSON.stringify(await Promise.all(holders.map(async id => {
      const v = await daemon(id).status()
      return { id, epoch: v.rosterEpoch, peers: v.peers.map(p => p.memberId) }
    }))))
    const revoked = await until('val-4 to be left with no peer', async () => {
      const v = await daemon('val-4').status()
      return v.peers.length === 0 ? v : undefined
    })
    // val-4 never receives the epoch that revokes it (nobody admits it any more), but it hears why it was cut.
    for (const id of ['val-1', 'val-2', 'val-3']) {
      assert.ok(revoked.refusals.some(r => r.code === 'revoked' && r.by === 'remote' && r.memberId === id), `val-4 heard from ${id} that it is revoked`)
    }
    // Only val-2 was given the epoch: val-1 took it over the network, and its roster file follows it.
    await until('val-1\'s roster file to follow the epoch', async () => Roster.parse(await readFile(fed.files('val-1').roster, 'utf8')).epoch === 2 ? true : undefined)
    const metrics = await daemon('val-1').metrics()
    assert.equal(counterSum(metrics, 'fedgate_disconnects_total', { reason: 'revoked' }) >= 1, true)
  })

  it('with 50 ms round trips added by a delaying proxy, a member is admitted; the admission time is reported in round trips', async (t) => {
    // Control: the proxy adds the round trip it claims, on a plain TCP echo.
    const echo: Server = createServer(s => s.pipe(s))
    await new Promise<void>(resolve => { echo.listen(0, lab.bridgeIp, resolve) })
    const echoProxy = await DelayProxy.start({ listen: { host: lab.bridgeIp }, target: { host: lab.bridgeIp, port: (echo.address() as AddressInfo).port }, oneWayMs: ONE_WAY_MS })
    const rttMs = await new Promise<number>((resolve, reject) => {
      const s = connect(echoProxy.port, lab.bridgeIp, () => {
        const t0 = performance.now()
        s.once('data', () => { resolve(performance.now() - t0); s.destroy() })
        s.write('x')
      })
      s.once('error', reject)
    })
    await echoProxy.close()
    echo.close()
    assert.ok(rttMs >= 2 * ONE_WAY_MS, `the proxy adds its round trip (${rttMs.toFixed(1)} ms)`)

    const h1 = lab.host('h1')
    proxy = await DelayProxy.start({ listen: { host: lab.bridgeIp }, target: { host: h1.ip, port: LAB_PORT }, oneWayMs: ONE_WAY_MS })
    const target = `/ip4/${lab.bridgeIp}/tcp/${proxy.port}/p2p/${fed.peerId('val-1')}`
    const files = fed.files('probe')
    await copyFile(join(dir, 'epoch-2.json'), files.roster)
    const prober = await startProber(lab, lab.host('h4'), files)
    await prober.call('probe', { target, samples: 2 }) // warms up both ends' JIT
    const report = await prober.call('probe', { target, samples: 5 })
    await prober.stop()
    assert.deepEqual(report.failures, {}, 'every admission through the proxy succeeded')
    const { p50Ms, maxMs } = distribution(report.latenciesMs)
    const rounds = p50Ms / (2 * ONE_WAY_MS)
    t.diagnostic(`admission through ${2 * ONE_WAY_MS} ms round trips (measured ${rttMs.toFixed(1)} ms): p50 ${p50Ms.toFixed(0)} ms = ${rounds.toFixed(1)} round trips, max ${maxMs.toFixed(0)} ms (dial to admitted and ready; the proxy does not delay the TCP handshake)`)
    assert.ok(rounds >= 2, `admission takes several round trips through the proxy (${rounds.toFixed(1)})`)
    assert.ok(rounds <= 12, `admission stays within a few round trips (${rounds.toFixed(1)})`)
  })
})
