import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Credential, generateNodeKey, Roster, verifyCredential } from '../../node/index.ts'
import type { DemoConfig } from '../../node/demo/browser/contract.ts'
import { assertFails, fedgate, REPO } from '../cli/run.ts'

const START_TIMEOUT_MS = 30_000

/** Resolves with the page address once the demo prints it. */
async function pageUrl (child: ChildProcessWithoutNullStreams, output: { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no page address within ${START_TIMEOUT_MS} ms: ${output.text}`)) }, START_TIMEOUT_MS)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output.text += chunk
      const url = /^Open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/m.exec(output.text)?.[1]
      if (url !== undefined) {
        clearTimeout(timer)
        resolve(url)
      }
    })
    child.on('close', code => { reject(new Error(`the demo exited ${String(code)} before it printed its address: ${output.text}`)) })
  })
}

describe('fedgate demo --browser: the page server an operator starts', () => {
  let tmp: string
  let child: ChildProcessWithoutNullStreams
  let url: string
  let stderr = ''
  const output = { text: '' }

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fedgate-browser-demo-test-'))
    child = spawn(process.execPath, ['scripts/fedgate.ts', 'demo', '--browser'], { cwd: REPO, env: { ...process.env, TMPDIR: tmp } })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    url = await pageUrl(child, output)
  })
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(tmp, { recursive: true, force: true })
  })

  it('prints the three nodes with their /ws addresses, and serves the page and fedgate.js under a CSP that allows only 127.0.0.1', async () => {
    for (const name of ['full-1', 'impostor', 'stock libp2p']) assert.match(output.text, new RegExp(`^ {2}${name} +/ip4/127\\.0\\.0\\.1/tcp/\\d+/ws/p2p/\\w+$`, 'm'))
    const page = await fetch(url)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<script type="module" src="\/demo-page\.js"><\/script>/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'; connect-src 'self' ws:\/\/127\.0\.0\.1:\*/)
    const library = await fetch(new URL('fedgate.js', url))
    assert.equal(library.status, 200)
    assert.equal(library.headers.get('content-type'), 'text/javascript')
    assert.equal((await fetch(new URL('nothing-here', url))).status, 404)
  })

  it('hands out the roster and a light-1 credential for the PeerId a page sends, and refuses anything else', async () => {
    const config = await (await fetch(new URL('config.json', url))).json() as DemoConfig
    const roster = Roster.parse(config.epochs[0] ?? '')
    assert.deepEqual([roster.fingerprint, config.targets.map(t => t.expect)], [config.trustRoot.fingerprint, ['admitted', 'refused', 'refused']])
    const key = await generateNodeKey()
    const issued = await fetch(new URL('credential', url), { method: 'POST', body: JSON.stringify({ peerId: key.peerId }) })
    assert.equal(issued.status, 200)
    const credential = Credential.fromJSON(await issued.json())
    assert.deepEqual([credential.memberId, credential.roles, credential.peer], ['light-1', ['light-client'], key.peerId])
    assert.equal(verifyCredential(credential, key.peerId, roster, Date.now()), null)
    for (const body of ['{"peerId":"12D3KooWnot-a-peer-id"}', '{}', 'not json', JSON.stringify({ peerId: 'x'.repeat(70_000) })]) {
      const refused = await fetch(new URL('credential', url), { method: 'POST', body })
      assert.equal(refused.status, 400, body.slice(0, 40))
      assert.match(await refused.text(), /peerId|PeerId/)
    }
  })

  it('stops on SIGTERM with exit 0, and leaves no temp dir behind (it held private keys)', async () => {
    const closed = new Promise<number | null>(resolve => { child.on('close', resolve) })
    child.kill('SIGTERM')
    assert.equal(await closed, 0, stderr)
    assert.deepEqual(await readdir(tmp), [])
  })

  it('refuses --keep and a bad --port with a usage error', async () => {
    const [keep, badPort, portAlone] = await Promise.all([
      fedgate('demo', '--browser', '--keep', join(tmp, 'keep')),
      fedgate('demo', '--browser', '--port', '70000'),
      fedgate('demo', '--port', '8080')
    ])
    assert.match(assertFails(keep, 2), /--keep does not apply to --browser/)
    assertFails(badPort, 2)
    assert.match(assertFails(portAlone, 2), /--port applies only to --browser/)
  })
})
