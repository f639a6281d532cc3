import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allowProtocol, createFederationNode, Roster, type FederationNode } from '../../node/index.ts'
import { AdminServer, formatHostPort } from '../../node/daemon/index.ts'
import { Federation, HOUR_MS } from './federation.ts'

const TOKEN = 'a-test-token-0123456789abcdef'

interface Answer { status: number, body: Record<string, unknown> }

/**
 * One unauthenticated POST /roster used to freeze a node (256 MiB of `[{},{},…]` parsed on the
 * main thread), and a web page in the operator's browser could POST or read /status. Each of these
 * is refused now, before the body is parsed.
 */
describe('admin endpoint hardening', () => {
  let dir: string
  let fed: Federation
  let node: FederationNode
  let admin: AdminServer
  let host: string

  /** One raw request, with exactly the headers given (fetch would add its own). */
  async function send (method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
    return await new Promise((resolve, reject) => {
      const req = request({ host: admin.address.host, port: admin.address.port, method, path, headers, setHost: false }, res => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }) })
      })
      req.on('error', reject)
      req.end(body)
    })
  }
  const json = { 'content-type': 'application/json' }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-admin-hard-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS }])
    const a = fed.member('val-a')
    node = await createFederationNode({ key: a.keyFile, credential: a.credentialFile, roster: { dataDir: join(dir, 'data'), rosterFile: fed.rosterFile }, listen: ['/ip4/127.0.0.1/tcp/0'] })
    admin = await AdminServer.listen(node, { host: '127.0.0.1', port: 0 }, { token: TOKEN })
    host = formatHostPort(admin.address)
  })
  after(async () => {
    await admin.close()
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('a Host that is not this endpoint (DNS rebinding) is refused with 421, for reads and writes', async () => {
    for (const [method, path] of [['GET', '/status'], ['POST', '/roster']]) {
      const answer = await send(method ?? '', path ?? '', { host: `rebind.example:${admin.address.port}`, ...json, authorization: `Bearer ${TOKEN}` }, '{}')
      assert.equal(answer.status, 421)
      assert.equal(answer.body.error, 'wrong-host')
    }
    assert.equal((await send('GET', '/status', { host: `localhost:${admin.address.port}` })).status, 200, 'localhost is this host')
  })

  it('a request from a web page of another origin is refused with 403 (CSRF)', async () => {
    assert.equal((await send('GET', '/status', { host, origin: 'http://evil.example' })).status, 403)
    assert.equal((await send('POST', '/roster', { host, origin: 'http://evil.example', ...json, authorization: `Bearer ${TOKEN}` }, '{}')).status, 403)
    assert.equal((await send('GET', '/status', { host, 'sec-fetch-site': 'cross-site' })).status, 403)
    assert.equal((await send('GET', '/status', { host, origin: `http://${host}` })).status, 200, 'the same origin is allowed')
  })

  it('POST /roster needs Content-Type: application/json (a form or text/plain post is 415)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      assert.equal((await send('POST', '/roster', { host, 'content-type': type, authorization: `Bearer ${TOKEN}` }, '{}')).status, 415)
    }
  })

  it('with a token configured, POST /roster without it or with another is 401', async () => {
    const none = await send('POST', '/roster', { host, ...json }, '{}')
    assert.equal(none.status, 401)
    assert.equal((await send('POST', '/roster', { host, ...json, authorization: 'Bearer wrong-token-0123456789abcd' }, '{}')).status, 401)
    const next = fed.nextEpoch(r => allowProtocol(r, '/chain/x/1.0.0', ['validator']))
    const ok = await send('POST', '/roster', { host, ...json, authorization: `Bearer ${TOKEN}` }, next.encode())
    assert.deepEqual([ok.status, ok.body.accepted, ok.body.epoch], [200, true, next.epoch])
  })

  it('a large hostile body is refused as malformed after a check off the main thread, and the node keeps answering', async () => {
    const junk = '[' + '{},'.repeat(3 * 1024 * 1024) + '{}]'
    // Count the parses of the body on this (the main) thread: the worker that checks it has its own.
    // (The node may parse its own roster file meanwhile: it rewrote it to the epoch published above.)
    const parse = Roster.parse.bind(Roster)
    let mainThreadParses = 0
    Roster.parse = (text: string) => {
      if (text === junk) mainThreadParses++
      return parse(text)
    }
    try {
      const before = node.roster.fingerprint
      const answer = await send('POST', '/roster', { host, ...json, authorization: `Bearer ${TOKEN}` }, junk)
      assert.deepEqual([answer.status, answer.body.accepted, answer.body.code], [409, false, 'malformed'])
      assert.equal(mainThreadParses, 0, 'the hostile body was never parsed on the main thread')
      assert.equal(node.roster.fingerprint, before)
      assert.equal((await send('GET', '/healthz', { host })).status, 200)
    } finally {
      Roster.parse = parse
    }
  })

  it('a second publish while one is in flight is 429, not a second parse', async () => {
    const slow = request({ host: admin.address.host, port: admin.address.port, method: 'POST', path: '/roster', headers: { host, ...json, authorization: `Bearer ${TOKEN}`, 'content-length': '1000' }, setHost: false })
    const slowAnswer = new Promise<number | undefined>(resolve => { slow.on('response', res => { res.resume(); resolve(res.statusCode) }) })
    slow.on('error', () => {})
    slow.write('{')
    // The first request's headers are in: the endpoint is now busy until its body completes.
    let busy: Answer | undefined
    for (let i = 0; i < 100 && busy?.status !== 429; i++) busy = await send('POST', '/roster', { host, ...json, authorization: `Bearer ${TOKEN}` }, '{}')
    assert.equal(busy?.status, 429)
    slow.end(' '.repeat(999))
    assert.equal(await slowAnswer, 409)
  })
})
