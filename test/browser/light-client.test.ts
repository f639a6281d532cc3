import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import type { PageReport } from '../../node/demo/browser/contract.ts'
import { LIGHT_MEMBER, startBrowserFederation, type BrowserFederation } from '../../node/demo/browser/federation.ts'
import { serveBrowserDemo, type BrowserDemoServer } from '../../node/demo/browser/server.ts'
import { buildBrowser } from '../../scripts/browser/build.ts'
import { launchChromium, type HeadlessChromium } from '../../scripts/browser/chromium.ts'
import { waitFor } from '../node/fixture.ts'

/** Bound on the page reaching its verdicts (a cold Chromium on a busy machine takes a few seconds). */
const PAGE_TIMEOUT_MS = 30_000
const LOOPBACK = /^(https?|wss?):\/\/127\.0\.0\.1:\d+\//

interface Row {
  readonly target: string
  readonly outcome: string
  readonly code: string | undefined
  readonly text: string
}

async function rows (page: Page): Promise<Row[]> {
  return page.$$eval('#targets tbody tr', trs => trs.map(tr => {
    const row = tr as unknown as { dataset: Record<string, string | undefined>, innerText: string }
    return { target: row.dataset.target ?? '', outcome: row.dataset.outcome ?? '', code: row.dataset.code, text: row.innerText }
  }))
}

/*
 * The light-client page in real headless Chromium (Debian's package, driven by playwright-core):
 * the page loads the freshly built fedgate.js, authenticates the member full node over WebSockets
 * and refuses the impostor and the stock libp2p node, each with its reason code.
 */
describe('light client in headless Chromium', () => {
  let work: string
  let federation: BrowserFederation
  let server: BrowserDemoServer
  let chromium: HeadlessChromium | undefined

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'fedgate-light-client-'))
    const built = await buildBrowser(join(work, 'bundle'))
    federation = await startBrowserFederation(join(work, 'nodes'))
    server = await serveBrowserDemo({ federation, bundleDir: built.dir })
  })
  after(async () => {
    await chromium?.close()
    await server?.close()
    await federation?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('admits the member full node with its member and role, and refuses the impostor and the stock node with their codes', async t => {
    // Fails with ChromiumMissingError, saying what to install, when Debian's chromium is not there.
    chromium = await launchChromium()
    const page = await chromium.context.newPage()
    const requests: string[] = []
    page.on('request', request => { requests.push(request.url()) })
    page.on('websocket', socket => { requests.push(socket.url()) })
    const impostorSaw = waitFor(federation.impostor.gate, 'refused', r => r.code === 'bad-signature')
    const reported = new Promise<PageReport>(resolve => { server.addEventListener('report', evt => { resolve(evt.detail) }, { once: true }) })

    await page.goto(server.url)
    await page.waitForSelector('body[data-state]', { timeout: PAGE_TIMEOUT_MS })
    const shot = join(await mkdtemp(join(tmpdir(), 'fedgate-light-client-shot-')), 'light-client.png')
    await page.screenshot({ path: shot, fullPage: true })
    t.diagnostic(`screenshot: ${shot}`)

    assert.equal(await page.getAttribute('body', 'data-state'), 'passed', await page.innerText('body'))
    const [full, impostor, stock, ...rest] = await rows(page)
    assert.deepEqual(rest, [])
    assert.deepEqual([full?.target, full?.outcome], ['full-1', 'admitted'])
    assert.match(full?.text ?? '', /admitted: full-1 \[full-node\]/)
    assert.match(full?.text ?? '', /full-1 verified you as light-1 \[light-client\]/, 'the request ran over /chain/headers/1.0.0, and the full node verified the browser')
    assert.deepEqual([impostor?.target, impostor?.outcome, impostor?.code], ['impostor', 'refused', 'bad-signature'])
    assert.match(impostor?.text ?? '', /refused: bad-signature[\s\S]*decided by this browser/)
    assert.deepEqual([stock?.target, stock?.outcome, stock?.code], ['stock libp2p', 'refused', 'no-credential'])

    const report = await reported
    assert.deepEqual([report.memberId, report.roles], [LIGHT_MEMBER, ['light-client']])
    assert.ok(report.timings.authenticatedMs !== null && report.timings.authenticatedMs > report.timings.clientMs)
    // Both ends checked each other: the full node admitted the browser's key as light-1, and the
    // impostor let the browser in but heard from it that its own credential failed.
    assert.deepEqual(federation.admitted.map(p => [p.peerId, p.memberId, p.roles]), [[report.peerId, LIGHT_MEMBER, ['light-client']]])
    const refusal = await impostorSaw
    assert.deepEqual([refusal.by, refusal.peerId], ['remote', report.peerId])
    assert.deepEqual(federation.impostor.peers(), [])

    assert.ok(requests.length >= 5, `the page loaded its script and dialled three nodes: ${requests.join(' ')}`)
    assert.deepEqual(requests.filter(url => !LOOPBACK.test(url)), [], 'the page reached nothing but 127.0.0.1')
    assert.equal(requests.filter(url => url.startsWith('ws://')).length, 3)
    await page.close()
  })
})
