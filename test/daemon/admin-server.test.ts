import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_ROSTER_BYTES, revoke, type Roster } from '../../membership/index.ts'
import { createFederationNode, type FederationNode } from '../../node/index.ts'
import { AdminServer, formatHostPort, type HealthDocument, type PublishDocument, type StatusDocument } from '../../node/daemon/index.ts'
import { Federation, HOUR_MS } from './federation.ts'

describe('admin endpoint', () => {
  let dir: string
  let fed: Federation
  let node: FederationNode
  let admin: AdminServer
  let base: string
  let published: Roster
  const get = async (path: string, init: RequestInit = {}): Promise<Response> => fetch(base + path, init)
  const post = async (body: string): Promise<{ status: number, doc: PublishDocument }> => {
    const res = await get('/roster', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    return { status: res.status, doc: await res.json() as PublishDocument }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-admin-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS }])
    const a = fed.member('val-a')
    node = await createFederationNode({ key: a.keyFile, credential: a.credentialFile, roster: { dataDir: join(dir, 'data'), rosterFile: fed.rosterFile }, listen: ['/ip4/127.0.0.1/tcp/0'] })
    admin = await AdminServer.listen(node, { host: '127.0.0.1', port: 0 })
    base = `http://${formatHostPort(admin.address)}`
  })

  after(async () => {
    await admin.close()
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('binds port 0 to a free port and reports it', () => {
    assert.equal(admin.address.host, '127.0.0.1')
    assert.ok(admin.address.port > 0)
  })

  it('GET /status: identity, roster epoch, credential and listen addresses; times are ISO strings', async () => {
    const res = await get('/status')
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    const status = await res.json() as StatusDocument
    const a = fed.member('val-a')
    assert.equal(status.peerId, a.nodeKey.peerId)
    assert.equal(status.federation, 'daemon-fed')
    assert.equal(status.rosterEpoch, 1)
    assert.equal(status.memberId, 'val-a')
    assert.deepEqual(status.roles, ['validator'])
    assert.equal(status.credential.fingerprint, node.credential.fingerprint)
    assert.equal(Date.parse(status.credential.notAfter), node.credential.notAfterMs)
    assert.ok(status.credential.expiresInSeconds > 47 * 3600 && status.credential.expiresInSeconds <= 48 * 3600)
    assert.deepEqual(status.listen, node.getMultiaddrs().map(String))
    assert.match(status.startedAt, /^\d{4}-\d{2}-\d{2}T.*Z$/)
    assert.deepEqual(status.peers, [])
    assert.deepEqual(status.refusals, [])
  })

  it('GET /metrics: Prometheus text with fedgate and libp2p metrics', async () => {
    const res = await get('/metrics')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), node.metrics.registry.contentType)
    const text = await res.text()
    assert.match(text, /^fedgate_roster_epoch 1$/m)
    assert.match(text, /^fedgate_credential_expiry_seconds \d+$/m)
    assert.match(text, /^libp2p_\w+/m)
  })

  it('GET /healthz: 200 while the own credential verifies', async () => {
    const res = await get('/healthz')
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { ok: true })
  })

  it('unknown paths are 404, wrong methods 405 with Allow', async () => {
    assert.equal((await get('/nope')).status, 404)
    assert.equal((await get('/status/extra')).status, 404)
    const postStatus = await get('/status', { method: 'POST', body: '{}' })
    assert.equal(postStatus.status, 405)
    assert.equal(postStatus.headers.get('allow'), 'GET, HEAD')
    const getRoster = await get('/roster')
    assert.equal(getRoster.status, 405)
    assert.equal(getRoster.headers.get('allow'), 'POST')
    assert.equal((await get('/status', { method: 'HEAD' })).status, 200)
  })

  it('POST /roster: refuses what does not parse or is under-signed, with the reason code', async () => {
    assert.deepEqual(await post('not json').then(r => [r.status, r.doc.accepted, 'code' in r.doc ? r.doc.code : null]), [409, false, 'malformed'])
    const underSigned = fed.nextEpoch(r => revoke(r, { member: 'val-a' }), 1)
    const refused = await post(underSigned.encode())
    assert.equal(refused.status, 409)
    assert.ok(!refused.doc.accepted && refused.doc.code === 'threshold-not-met' && refused.doc.fix.length > 0)
  })

  it('POST /roster: the accepted epoch again is a no-op; a signed next epoch is applied', async () => {
    assert.deepEqual(await post(fed.roster.encode()), { status: 200, doc: { accepted: true, epoch: 1, alreadyInForce: true } })
    published = fed.nextEpoch(r => revoke(r, { credential: 'ab'.repeat(32) }))
    assert.deepEqual(await post(published.encode()), { status: 200, doc: { accepted: true, epoch: 2, alreadyInForce: false } })
    assert.deepEqual(await post(published.encode()), { status: 200, doc: { accepted: true, epoch: 2, alreadyInForce: true } })
    assert.equal((await (await get('/status')).json() as StatusDocument).rosterEpoch, 2)
    const stale = await post(fed.roster.encode())
    assert.ok(stale.status === 409 && !stale.doc.accepted && stale.doc.code === 'roster-stale')
  })

  it('POST /roster: a body over the roster size cap is refused with 413 before it is read', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${base}/roster`, { method: 'POST', headers: { 'content-length': String(MAX_ROSTER_BYTES + 1), 'content-type': 'application/json' } }, res => {
        res.resume()
        resolve(res.statusCode)
        req.destroy()
      })
      req.on('error', reject)
      req.write('{')
    })
    assert.equal(status, 413)
  })

  it('a second endpoint on the same port fails with AdminListenError', async () => {
    await assert.rejects(AdminServer.listen(node, admin.address), { name: 'AdminListenError', code: 'EADDRINUSE' })
  })

  it('GET /healthz: 503 with the reason once the roster revokes the node itself, and while stopping', async () => {
    const a = fed.member('val-a')
    const next = fed.nextEpoch(r => revoke(r, { peer: a.nodeKey.peerId }), 2, published)
    assert.equal((await post(next.encode())).status, 200)
    const revoked = await get('/healthz')
    assert.equal(revoked.status, 503)
    const health = await revoked.json() as HealthDocument
    assert.ok(!health.ok && health.reason === 'revoked' && health.fix.length > 0)
    admin.markStopping()
    const stopping = await (await get('/healthz')).json() as HealthDocument
    assert.ok(!stopping.ok && stopping.reason === 'shutdown')
  })
})
