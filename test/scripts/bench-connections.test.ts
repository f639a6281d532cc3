import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-connections.ts', import.meta.url))
const run = promisify(execFile)

interface Report {
  config: { libp2pMetrics: boolean }
  throughput: Array<{ name: string, label: string, rounds: Array<{ ops: number, errors: number }>, medianConnPerSec: number, medianCpuMsPerConn: number, connPerCpuSecond: number }>
  ratios: Array<{ name: string, value: number, byCpu: number }>
  revocation: {
    reps: number
    connectionsPerRep: number
    dialer: { all: { samples: number, p99Ms: number } }
    listener: { all: { samples: number, p99Ms: number } }
    rosterApplied: { samples: number }
    missedCloses: number
    keptClosed: number
  }
}

async function benchDirs (): Promise<string[]> {
  return (await readdir(tmpdir())).filter(name => name.startsWith('fedgate-bench-conn-'))
}

describe('scripts/bench-connections.ts --quick', () => {
  it('measures every variant and the revocation latency, and removes its temp dir', async () => {
    const before = await benchDirs()
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick', '--json'], { timeout: 180_000 })
    const report = JSON.parse(stdout) as Report
    assert.deepEqual(report.throughput.map(v => v.name), ['fedgate', 'bare', 'bare-stock', 'mtls', 'fedgate-secp256k1'])
    for (const variant of report.throughput) {
      assert.ok(variant.rounds.every(r => r.ops > 0 && r.errors === 0), `${variant.name} completed connections without errors`)
      assert.ok(variant.medianConnPerSec > 0)
      assert.ok(variant.medianCpuMsPerConn > 0)
      assert.ok(Math.abs(variant.connPerCpuSecond * variant.medianCpuMsPerConn - 1000) < 1e-6)
    }
    assert.equal(report.config.libp2pMetrics, false, 'the same libp2p metrics setting on every side')
    assert.match(report.throughput.find(v => v.name === 'bare')?.label ?? '', /same crypto as fedgate \(nodeNoiseCrypto\)/)
    assert.deepEqual(report.ratios.map(r => r.name), [
      'fedgate / bare libp2p, same Noise crypto', 'fedgate / bare libp2p, stock Noise crypto', 'fedgate / Node mTLS (stretch)', 'fedgate-secp256k1 / bare libp2p, same Noise crypto'
    ])
    assert.ok(report.ratios.every(r => r.byCpu > 0 && r.value > 0))
    const rev = report.revocation
    assert.equal(rev.missedCloses, 0, 'every revoked connection closed')
    assert.equal(rev.keptClosed, 0, 'other members kept their connections')
    assert.equal(rev.dialer.all.samples, rev.reps * rev.connectionsPerRep)
    assert.equal(rev.listener.all.samples, rev.reps * rev.connectionsPerRep)
    assert.equal(rev.rosterApplied.samples, rev.reps, 'the listener accepted every revoking epoch')
    assert.deepEqual((await benchDirs()).filter(name => !before.includes(name)), [], 'the run left no temp dir behind')
  })

  it('prints the tables as text', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick', '--variants', 'fedgate,bare', '--reps', '1'], { timeout: 180_000 })
    const lines = stdout.split('\n')
    assert.ok(lines.some(l => /^fedgate\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+0$/.test(l)), 'fedgate row')
    assert.ok(lines.some(l => /^bare\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+0$/.test(l)), 'bare row')
    assert.ok(lines.some(l => /^fedgate \/ bare libp2p, same Noise crypto\s+[\d.]+x\s+(PASS|MISS)\s+[\d.]+x\s+>= 0\.90x$/.test(l)), 'headline ratio row')
    assert.ok(lines.some(l => /^dialer side, every connection\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/.test(l)), 'revocation row')
    assert.match(stdout, /target p99 <= 1000 ms on both sides, nothing missed, others kept: (PASS|MISS)$/m)
  })
})
