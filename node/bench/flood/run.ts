import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { counterSum, DaemonProcess } from '../daemon-process.ts'
import { LabFederation } from '../lab-federation.ts'
import { NetnsLab, NetnsUnavailableError } from '../netns.ts'
import { cpuMs, openSockets, residentMemory } from '../process-stats.ts'
import { distribution } from '../stats.ts'
import { startFlooder, startProber, type Flooder, type Prober } from './agents.ts'
import type { FloodCounts } from './flooder.ts'
import type { ProbeReport } from './prober.ts'
import { formatFloodReport, type FloodReport, type Footprint } from './report.ts'

const FULL = { identities: 64, windowMs: 10_000, samples: 100, floodBoundMs: 180_000, maxAttempts: 2_000_000, warmup: 5 }
const QUICK = { identities: 16, windowMs: 1_500, samples: 6, floodBoundMs: 60_000, maxAttempts: 200_000, warmup: 2 }
/** How long the node may take to return to its baseline after the flood before the run gives up waiting. */
const SETTLE_LIMIT_MS = 30_000
const SAMPLE_INTERVAL_MS = 100

const USAGE = `usage: npm run bench:flood -- [--quick] [--json] [--identities N] [--window-ms MS] [--samples N]
Runs as root on Linux: the node, the flood and the probing members each run in a network namespace of their own.`

/**
 * The flood benchmark, one run: a validator (`fedgate node start`, host h1) is flooded by stock
 * libp2p identities from host h2, while members probe its admission latency from h2 (the flooding
 * IP) and h3 (a distinct IP), idle and during the flood. Prints node CPU per refused attempt and
 * per admitted connection, the latency percentiles, peak sockets and memory, the time to return to
 * baseline, and the targets. Returns the exit code.
 */
export async function runFloodBench (argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      identities: { type: 'string' },
      'window-ms': { type: 'string' },
      samples: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help === true) {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const base = values.quick === true ? QUICK : FULL
  const config = {
    ...base,
    identities: positive(values.identities, '--identities') ?? base.identities,
    windowMs: positive(values['window-ms'], '--window-ms') ?? base.windowMs,
    samples: positive(values.samples, '--samples') ?? base.samples
  }
  let lab: NetnsLab
  try {
    lab = await NetnsLab.create(3, 'the flood benchmark')
  } catch (err) {
    if (!(err instanceof NetnsUnavailableError)) throw err
    process.stderr.write(`error: ${err.message}\n`)
    return 1
  }
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-bench-flood-'))
  let victim: DaemonProcess | undefined
  const agents: Array<Flooder | Prober> = []
  try {
    const [h1, h2, h3] = lab.hosts
    if (h1 === undefined || h2 === undefined || h3 === undefined) throw new Error('the lab has three hosts')
    const fed = await LabFederation.create(dir, {
      federation: 'bench-flood',
      members: [
        { id: 'val-1', roles: ['validator'], ip: h1.ip },
        { id: 'fn-flooding-ip', roles: ['full-node'] },
        { id: 'fn-distinct-ip', roles: ['full-node'] }
      ]
    })
    victim = await DaemonProcess.start(lab, h1, 'val-1', await fed.writeDaemonConfig('val-1'))
    const node = victim
    const target = fed.addr('val-1')
    // Every process is up before anything is measured: the members' nodes, the flooder's identities.
    const [floodingProber, distinctProber, flooder] = await Promise.all([
      startProber(lab, h2, fed.files('fn-flooding-ip')), startProber(lab, h3, fed.files('fn-distinct-ip')), startFlooder(lab, h2, config.identities)
    ])
    agents.push(floodingProber, distinctProber, flooder)
    const probeBoth = async (samples = config.samples): Promise<{ flooding: ProbeReport, distinct: ProbeReport }> => {
      const [flooding, distinct] = await Promise.all([floodingProber.call('probe', { target, samples }), distinctProber.call('probe', { target, samples })])
      return { flooding, distinct }
    }
    const floodCounts = async (): Promise<FloodCounts> => await flooder.call('counts')
    const admittedSoFar = async (): Promise<number> => counterSum(await node.metrics(), 'fedgate_handshakes_total', { direction: 'inbound', result: 'admitted' })

    // Idle: members only. The node's CPU over the phase, per connection it admitted (after a round
    // that warms up its JIT, which a long-running node has long done).
    await probeBoth(config.warmup)
    const idleCpu0 = await cpuMs(node.pid)
    const idleAdmitted0 = await admittedSoFar()
    const idle = await probeBoth()
    const admittedCpuMs = await cpuMs(node.pid) - idleCpu0
    const admitted = await admittedSoFar() - idleAdmitted0
    const baseline = await footprint(node)

    // The flood: first alone, for the node's CPU per refused attempt; then with the members probing.
    const peak = { sockets: baseline.sockets, rssMiB: baseline.rssMiB }
    const sampler = setInterval(() => {
      void footprint(node).then(f => {
        peak.sockets = Math.max(peak.sockets, f.sockets)
        peak.rssMiB = Math.max(peak.rssMiB, f.rssMiB)
      }, () => {})
    }, SAMPLE_INTERVAL_MS)
    await flooder.call('flood', { target, durationMs: config.floodBoundMs, maxAttempts: config.maxAttempts })
    while ((await floodCounts()).refused < config.identities) await new Promise(resolve => setTimeout(resolve, SAMPLE_INTERVAL_MS))
    const window0 = { cpu: await cpuMs(node.pid), refused: (await floodCounts()).refused }
    await new Promise(resolve => setTimeout(resolve, config.windowMs))
    const window1 = { cpu: await cpuMs(node.pid), refused: (await floodCounts()).refused }
    const during = await probeBoth()
    const last = await floodCounts()
    const floodStillOn = last.elapsedMs < config.floodBoundMs && last.attempts < config.maxAttempts
    // Timed from the order to stop, so the flooder's own wind-down counts against the node.
    const stoppedAt = performance.now()
    const totals = await flooder.call('end')
    const back = await backToBaseline(node, baseline)
    const backMs = back === undefined ? Number.NaN : back - stoppedAt
    clearInterval(sampler)
    const metrics = await node.metrics()
    const after = await footprint(node)

    const report: FloodReport = {
      config: { identities: config.identities, windowMs: config.windowMs, samples: config.samples, victim: h1.ip, floodingIp: h2.ip, distinctIp: h3.ip },
      cpu: {
        refusedMsPerAttempt: (window1.cpu - window0.cpu) / (window1.refused - window0.refused),
        refusedAttempts: window1.refused - window0.refused,
        admittedMsPerConnection: admittedCpuMs / admitted,
        admittedConnections: admitted
      },
      latency: {
        idleDistinct: distribution(idle.distinct.latenciesMs),
        idleFlooding: distribution(idle.flooding.latenciesMs),
        floodDistinct: distribution(during.distinct.latenciesMs),
        floodFlooding: distribution(during.flooding.latenciesMs)
      },
      failures: { idleDistinct: idle.distinct.failures, idleFlooding: idle.flooding.failures, floodDistinct: during.distinct.failures, floodFlooding: during.flooding.failures },
      floodStillOn,
      flood: totals,
      refusalsByReason: refusalsByReason(metrics),
      footprint: { baseline, peak, after },
      backToBaselineMs: backMs
    }
    process.stdout.write(values.json === true ? JSON.stringify(report, null, 2) + '\n' : formatFloodReport(report))
    return 0
  } finally {
    await Promise.all(agents.map(async a => { await a.stop() }))
    await victim?.stop()
    await lab.close()
    await rm(dir, { recursive: true, force: true })
  }
}

function positive (value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} ${value}: expected a positive integer\n${USAGE}`)
  return n
}

/** The node's open sockets, memory, admitted connections and handshakes in progress. */
async function footprint (node: DaemonProcess): Promise<Footprint> {
  const [sockets, memory, status] = await Promise.all([openSockets(node.pid), residentMemory(node.pid), node.status()])
  return { sockets, rssMiB: memory.rssMiB, connections: status.peers.length, pending: status.pending.pending }
}

/** When (performance.now()) the node is back to `baseline` sockets, connections and no pending handshake; undefined if not within SETTLE_LIMIT_MS. */
async function backToBaseline (node: DaemonProcess, baseline: Footprint): Promise<number | undefined> {
  const limit = performance.now() + SETTLE_LIMIT_MS
  while (performance.now() < limit) {
    const now = await footprint(node)
    if (now.sockets <= baseline.sockets && now.connections <= baseline.connections && now.pending === 0) return performance.now()
    await new Promise(resolve => setTimeout(resolve, SAMPLE_INTERVAL_MS / 2))
  }
  return undefined
}

/** The node's inbound refusals so far, by reason code. */
function refusalsByReason (metrics: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const m of metrics.matchAll(/^fedgate_handshakes_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = m[1] ?? ''
    if (!labels.includes('direction="inbound"') || !labels.includes('result="refused"')) continue
    const reason = /reason="([^"]*)"/.exec(labels)?.[1] ?? 'unknown'
    out[reason] = (out[reason] ?? 0) + Number(m[2])
  }
  return out
}
