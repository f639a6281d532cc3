import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { TEMP_PREFIX } from '../../node/bench/propagation/index.ts'
import { hopsFrom, links } from '../../node/bench/propagation/run.ts'

const SCRIPT = fileURLToPath(new URL('../../scripts/bench-propagation.ts', import.meta.url))
const run = promisify(execFile)

describe('scripts/bench-propagation.ts --quick', () => {
  it('revokes across a line and a mesh, closes every connection of the revoked member, and removes its temp dir', async () => {
    const before = (await readdir(tmpdir())).filter(f => f.startsWith(TEMP_PREFIX))
    const { stdout } = await run(process.execPath, [SCRIPT, '--quick', '--json'], { timeout: 120_000 })
    const report = JSON.parse(stdout) as { results: Array<{ topology: string, nodes: number, hops: number, missed: number, lastClosed: { samples: number, p50Ms: number }, byHop: number[] }> }
    assert.deepEqual(report.results.map(r => [r.topology, r.nodes, r.hops]), [['line', 6, 5], ['mesh', 6, hopsOfMesh(6)]])
    for (const r of report.results) {
      assert.equal(r.missed, 0, `${r.topology}: every connection of the revoked member closed`)
      assert.equal(r.lastClosed.samples, 2)
      assert.ok(r.lastClosed.p50Ms > 0)
      assert.equal(r.byHop.length, r.hops + 1)
    }
    const line = report.results[0]
    assert.ok((line?.byHop[5] ?? 0) > (line?.byHop[0] ?? Infinity), 'the far end of the line closes after the first node')
    assert.deepEqual((await readdir(tmpdir())).filter(f => f.startsWith(TEMP_PREFIX)), before, 'the temp dir is removed')
  })

  it('refuses an unknown topology with a message naming it', async () => {
    await assert.rejects(run(process.execPath, [SCRIPT, '--topologies', 'star'], { timeout: 30_000 }), (err: Error & { stderr?: string }) => {
      assert.match(err.stderr ?? '', /--topologies: unknown topology "star" \(known: line, mesh\)/)
      return true
    })
  })
})

function hopsOfMesh (n: number): number {
  return Math.max(...hopsFrom(n, links('mesh', n)))
}

describe('the benchmark topologies', () => {
  it('a line of n has n-1 links and n-1 hops; a mesh is connected with degree 4 on average', () => {
    assert.equal(links('line', 10).length, 9)
    assert.equal(Math.max(...hopsFrom(10, links('line', 10))), 9)
    const mesh = links('mesh', 20)
    assert.equal(mesh.length, 40)
    assert.ok(hopsFrom(20, mesh).every(Number.isFinite), 'every node is reachable')
    assert.equal(new Set(mesh.map(([a, b]) => a < b ? `${a}-${b}` : `${b}-${a}`)).size, mesh.length, 'no link twice')
  })
})
