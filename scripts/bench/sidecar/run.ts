import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startBarePair } from './bare.ts'
import { cpuDuring } from '../../../node/bench/process-stats.ts'
import { startSidecarPair } from './daemons.ts'
import { redisBenchmark, requireRedis, startRedis, type RedisResult } from './redis.ts'
import { formatReport, type Report, type VariantResult } from './report.ts'
import { startBenchServers, tcpEchoRoundTrips, tcpThroughput } from './tcp.ts'

const FULL = { megabytes: 256, rounds: 3, echoRounds: 5000, echoWarmup: 500, redisRequests: 50_000, redisClients: 50 }
const QUICK = { megabytes: 8, rounds: 1, echoRounds: 100, echoWarmup: 20, redisRequests: 1_000, redisClients: 10 }

/**
 * The sidecar benchmark: one tunnel between two `fedgate node start` processes against direct
 * loopback TCP and one bare js-libp2p stream with the same Noise crypto (its listener in its own
 * process, as a daemon is), then redis-benchmark direct and through the tunnel. Variants run
 * interleaved, round by round, so machine noise hits all alike. Returns the exit code.
 */
export async function runSidecarBench (argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      megabytes: { type: 'string' },
      rounds: { type: 'string' },
      parts: { type: 'string', default: 'throughput,echo,redis' },
      profile: { type: 'string' }
    }
  })
  const base = values.quick === true ? QUICK : FULL
  const config = {
    ...base,
    megabytes: values.megabytes === undefined ? base.megabytes : Number(values.megabytes),
    rounds: values.rounds === undefined ? base.rounds : Number(values.rounds)
  }
  const parts = new Set(values.parts.split(','))
  requireRedis()
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile)
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true })
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-bench-sidecar-'))
  const servers = await startBenchServers()
  const redis = await startRedis()
  const bare = await startBarePair()
  const pair = await startSidecarPair(dir, new Map([
    ['sink', `127.0.0.1:${servers.sinkPort}`],
    ['echo', `127.0.0.1:${servers.echoPort}`],
    ['redis', `127.0.0.1:${redis.port}`]
  ]), profileDir)
  try {
    const port = (name: string): number => pair.ports.get(name) ?? 0
    const bytes = Math.round(config.megabytes * 1024 * 1024)
    const variants: Array<{ name: VariantResult['name'], throughput: () => Promise<number>, echo: () => Promise<number[]> }> = [
      { name: 'direct', throughput: async () => await tcpThroughput(servers.sinkPort, bytes), echo: async () => await tcpEchoRoundTrips(servers.echoPort, config.echoRounds, config.echoWarmup) },
      { name: 'tunnel', throughput: async () => await tcpThroughput(port('sink'), bytes), echo: async () => await tcpEchoRoundTrips(port('echo'), config.echoRounds, config.echoWarmup) },
      { name: 'bare', throughput: async () => await bare.throughput(bytes), echo: async () => await bare.echoRoundTrips(config.echoRounds, config.echoWarmup) }
    ]
    const throughput = new Map<string, number[]>(variants.map(v => [v.name, []]))
    const cpuPerMb = new Map<string, number[]>(variants.map(v => [v.name, []]))
    const pids = [undefined, pair.exposer.child.pid, pair.forwarder.child.pid, bare.pid]
    for (let round = 0; parts.has('throughput') && round < config.rounds; round++) {
      for (const v of rotate(variants, round)) {
        const { result, cpuMs } = await cpuDuring(pids, v.throughput)
        throughput.get(v.name)?.push(result)
        cpuPerMb.get(v.name)?.push(cpuMs / (bytes / 1e6))
      }
    }
    const echo = new Map<string, number[]>()
    for (const v of variants) echo.set(v.name, parts.has('echo') ? await v.echo() : [])
    const redisDirect: RedisResult[] = parts.has('redis') ? await redisBenchmark(redis.port, config.redisRequests, config.redisClients) : []
    const redisTunnel: RedisResult[] = parts.has('redis') ? await redisBenchmark(port('redis'), config.redisRequests, config.redisClients) : []
    const report: Report = {
      config,
      variants: variants.map(v => ({ name: v.name, mbPerSec: throughput.get(v.name) ?? [], cpuMsPerMb: cpuPerMb.get(v.name) ?? [], echoMs: echo.get(v.name) ?? [] })),
      redis: { requests: config.redisRequests, clients: config.redisClients, direct: redisDirect, tunnel: redisTunnel },
      memory: { exposer: await pair.exposer.memory(), forwarder: await pair.forwarder.memory() }
    }
    process.stdout.write(values.json === true ? JSON.stringify(report, null, 2) + '\n' : formatReport(report))
    return 0
  } finally {
    await pair.stop()
    await bare.stop()
    await redis.stop()
    await servers.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** The variants in a different order each round. */
function rotate<T> (list: readonly T[], by: number): T[] {
  const k = by % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}
