import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAuditLog, createFederationNode, encodeKeyFile, revoke, type FederationNode } from '../../node/index.ts'
import { AdminServer, formatHostPort } from '../../node/daemon/index.ts'
import { Federation, HOUR_MS } from '../daemon/federation.ts'

/** No secret ever reaches the audit log, /status or /metrics: node keys, member keys, admin keys. */
describe('adversarial: no secrets in logs or the admin endpoint', () => {
  let dir: string
  let fed: Federation
  let nodes: FederationNode[]
  let admin: AdminServer
  const log: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-secrets-'))
    fed = await Federation.create(dir, [{ id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS }, { id: 'val-b', roles: ['validator'], ttlMs: 48 * HOUR_MS }])
    const audit = createAuditLog({ level: 'trace', stream: { write: (line: string) => { log.push(line) } } })
    nodes = await Promise.all(['val-a', 'val-b'].map(async id => {
      const m = fed.member(id)
      return await createFederationNode({ key: m.keyFile, credential: m.credentialFile, roster: { dataDir: join(dir, `data-${id}`), rosterFile: fed.rosterFile }, listen: ['/ip4/127.0.0.1/tcp/0'], log: audit })
    }))
    const [a, b] = nodes
    if (a === undefined || b === undefined) throw new Error('two nodes expected')
    admin = await AdminServer.listen(a, { host: '127.0.0.1', port: 0 })
    // Admissions, a renewal, then a revocation: every kind of audit line.
    await b.dial(a.getMultiaddrs()[0] ?? '')
    await fed.writeCredential(fed.member('val-b'), 24 * HOUR_MS)
    await fed.writeRoster(fed.nextEpoch(r => revoke(r, { member: 'val-b' })))
    const deadline = Date.now() + 10_000
    while (a.peers().length > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
  })
  after(async () => {
    await admin.close()
    await Promise.all(nodes.map(async n => n.stop()))
    await rm(dir, { recursive: true, force: true })
  })

  it('the log, /status and /metrics carry none of the node, member or admin secrets', async () => {
    const base = `http://${formatHostPort(admin.address)}`
    const exposed = [
      log.join(''),
      await (await fetch(`${base}/status`)).text(),
      await (await fetch(`${base}/metrics`)).text()
    ].join('\n')
    assert.ok(log.some(l => l.includes('"event":"admission"')) && log.some(l => l.includes('"event":"disconnect"')), 'the run produced audit lines')
    const secrets: string[] = []
    for (const id of ['val-a', 'val-b']) {
      const m = fed.member(id)
      secrets.push(JSON.parse(encodeKeyFile(m.nodeKey)).privateKey as string, Buffer.from(m.memberKey.secretKey).toString('hex'))
      secrets.push((JSON.parse(await readFile(m.keyFile, 'utf8')) as { privateKey: string }).privateKey)
    }
    for (const adminKey of fed.admins) secrets.push(Buffer.from(adminKey.secretKey).toString('hex'))
    for (const secret of secrets) {
      assert.ok(secret.length >= 32)
      assert.equal(exposed.includes(secret), false, 'a secret key appears in the log or the admin endpoint')
      assert.equal(exposed.includes(secret.slice(0, 24)), false, 'part of a secret key appears in the log or the admin endpoint')
    }
  })
})
