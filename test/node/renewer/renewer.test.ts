import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import { createFederationNode, readCredentialFile, revoke, type Credential, type Disconnect, type FederationNode } from '../../../node/index.ts'
import { CredentialRenewer, type RenewalOutcome } from '../../../node/renewer/renewer.ts'
import { addrOf, captureLog, createFederation, eventually, LISTEN_LOCALHOST, WAIT_MS, type Federation } from '../fixture.ts'

/** Short lifetimes so renewals and expiry happen within seconds; the policy allows no clock skew. */
const SHORT_TTL_MS = 4_000
const HOUR_MS = 3_600_000

/** Resolves with the next outcome the renewer dispatches as `event` for `file`. */
async function next (renewer: CredentialRenewer, event: 'renewed' | 'failed', file: string, timeoutMs = WAIT_MS): Promise<RenewalOutcome> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { renewer.removeEventListener(event, onEvent); reject(new Error(`no '${event}' for ${file} within ${timeoutMs} ms`)) }, timeoutMs)
    const onEvent = (evt: CustomEvent<RenewalOutcome>): void => {
      if (evt.detail.file !== file) return
      clearTimeout(timer)
      renewer.removeEventListener(event, onEvent)
      resolve(evt.detail)
    }
    renewer.addEventListener(event, onEvent)
  })
}

describe('credential renewal agent', () => {
  let fed: Federation
  let hub: FederationNode
  const renewers: CredentialRenewer[] = []
  const nodes: FederationNode[] = []
  let rosterFile: string

  before(async () => {
    fed = await createFederation({
      members: [{ id: 'val-hub', roles: ['validator'] }, { id: 'val-r', roles: ['validator'] }],
      policy: { clockSkew: '0s' }
    })
    hub = await fed.startNode('val-hub')
    rosterFile = join(fed.dir, 'agent-roster.json')
    await writeFileAtomic(rosterFile, fed.roster.encode())
  })

  after(async () => {
    for (const r of renewers) r.stop()
    await Promise.all(nodes.map(async n => n.stop()))
    await fed.close()
  })

  /** A node of val-r reading `credential` from its own file. */
  async function nodeWithFile (name: string, credential: Credential): Promise<{ node: FederationNode, file: string }> {
    const home = join(fed.dir, name)
    await mkdir(home, { recursive: true })
    const file = join(home, 'credential.json')
    const nodeRoster = join(home, 'roster.json')
    await writeFileAtomic(file, credential.encode())
    await writeFileAtomic(nodeRoster, fed.roster.encode())
    const node = await createFederationNode({
      key: await fed.nodeKey(name),
      credential: file,
      roster: { dataDir: join(home, 'data'), rosterFile: nodeRoster },
      listen: [LISTEN_LOCALHOST],
      bans: false
    })
    nodes.push(node)
    return { node, file }
  }

  /** A credential file without a node: what the agent keeps current. */
  async function credentialFile (name: string, credential: Credential): Promise<string> {
    const file = join(fed.dir, `${name}.json`)
    await writeFileAtomic(file, credential.encode())
    return file
  }

  function renewer (files: string[], opts: { ttlMs?: number, renewAt?: number, retryMs?: number, roster?: string } = {}): CredentialRenewer {
    const r = new CredentialRenewer({ files, memberKey: fed.memberKey('val-r'), roster: opts.roster ?? rosterFile, log: captureLog().log, ...opts })
    renewers.push(r)
    return r
  }

  it('renews a node\'s credential before it runs out: the node applies it, its peer keeps the connection, while a node without renewal is cut as expired', async () => {
    const kept = await nodeWithFile('val-r-kept', await fed.issue('val-r-kept', { member: 'val-r', ttlMs: SHORT_TTL_MS }))
    const control = await nodeWithFile('val-r-control', await fed.issue('val-r-control', { member: 'val-r', ttlMs: SHORT_TTL_MS }))
    const first = kept.node.credential
    await kept.node.dial(addrOf(hub))
    await control.node.dial(addrOf(hub))
    await eventually(() => [kept, control].every(n => hub.peers().some(p => p.peerId === n.node.peerId)), 'the hub to admit both nodes')
    const connection = hub.libp2p.getConnections().find(c => c.remotePeer.toString() === kept.node.peerId)

    const agent = renewer([kept.file], { renewAt: 0.5, ttlMs: HOUR_MS })
    const renewed = next(agent, 'renewed', kept.file)
    const applied = new Promise<number>(resolve => {
      kept.node.gate.addEventListener('credential-renewed', evt => { if (evt.detail.local) resolve(Date.now()) })
    })
    const startOutcomes = await agent.start()
    assert.deepEqual(startOutcomes.map(o => o.renewed), [false], 'not due yet at start')
    const outcome = await renewed
    const appliedAt = await applied
    assert.ok(appliedAt >= first.notBeforeMs + SHORT_TTL_MS / 2 - 50, 'not renewed before the renew-at point')
    assert.ok(appliedAt < first.notAfterMs, 'renewed before the old credential ran out')
    assert.equal(kept.node.credential.fingerprint, outcome.credential?.fingerprint)
    assert.equal(kept.node.credential.peer, first.peer)
    assert.deepEqual(kept.node.credential.roles, first.roles)
    assert.equal((await readCredentialFile(kept.file)).notAfterMs - (await readCredentialFile(kept.file)).notBeforeMs, HOUR_MS)
    assert.equal((await stat(kept.file)).mode & 0o777, 0o644)

    const cut = await new Promise<Disconnect>(resolve => {
      hub.gate.addEventListener('disconnected', evt => { if (evt.detail.peerId === control.node.peerId) resolve(evt.detail) })
    })
    assert.equal(cut.code, 'expired')
    assert.ok(Date.now() > first.notAfterMs)
    assert.ok(hub.peers().some(p => p.peerId === kept.node.peerId && p.credential.fingerprint === kept.node.credential.fingerprint))
    assert.equal(connection?.status, 'open', 'the renewed node kept its connection')
  })

  it('keeps the lifetime of the credential it replaces and renews again when due', async () => {
    const file = await credentialFile('val-r-cycle', await fed.issue('val-r-cycle', { member: 'val-r', ttlMs: SHORT_TTL_MS }))
    const agent = renewer([file], { renewAt: 0.75 })
    const firstRenewal = next(agent, 'renewed', file)
    await agent.start()
    const a = await firstRenewal
    const secondRenewal = next(agent, 'renewed', file)
    const b = await secondRenewal
    agent.stop()
    assert.ok(a.credential !== undefined && b.credential !== undefined)
    assert.equal(a.credential.notAfterMs - a.credential.notBeforeMs, SHORT_TTL_MS)
    assert.notEqual(a.credential.fingerprint, b.credential.fingerprint)
    assert.ok(b.credential.notBeforeMs >= a.credential.notBeforeMs + SHORT_TTL_MS / 4 - 50)
  })

  it('renews an expired credential at once, and leaves one that is not due alone', async () => {
    const expired = await credentialFile('val-r-expired', await fed.issue('val-r-expired', { member: 'val-r', notBefore: Date.now() - 2 * HOUR_MS, ttlMs: HOUR_MS }))
    const fresh = await credentialFile('val-r-fresh', await fed.issue('val-r-fresh', { member: 'val-r', ttlMs: HOUR_MS }))
    const freshText = await readFile(fresh, 'utf8')
    const outcomes = await renewer([expired, fresh]).renewDue()
    assert.deepEqual(outcomes.map(o => o.renewed), [true, false])
    assert.ok((await readCredentialFile(expired)).notAfterMs > Date.now())
    assert.equal(await readFile(fresh, 'utf8'), freshText)
  })

  it('a roster that revokes the member stops renewals, logged and retried; a later roster lets them through', async () => {
    const file = await credentialFile('val-r-revoked', await fed.issue('val-r-revoked', { member: 'val-r', notBefore: Date.now() - 2 * HOUR_MS, ttlMs: HOUR_MS }))
    const before = await readFile(file, 'utf8')
    const agentRoster = join(fed.dir, 'revoking-roster.json')
    await writeFileAtomic(agentRoster, fed.nextEpoch(r => revoke(r, { member: 'val-r' })).encode())
    const agent = renewer([file], { roster: agentRoster, retryMs: 100 })
    const failed = next(agent, 'failed', file)
    await agent.start()
    const failure = await failed
    assert.match(failure.error ?? '', /member val-r is revoked/)
    assert.equal(await readFile(file, 'utf8'), before, 'nothing written')
    const renewed = next(agent, 'renewed', file)
    await writeFileAtomic(agentRoster, fed.roster.encode())
    assert.ok((await renewed).credential !== undefined)
  })

  it('refuses to renew another member\'s credential with this member key', async () => {
    const file = await credentialFile('val-hub-2', await fed.issue('val-hub-2', { member: 'val-hub', notBefore: Date.now() - 2 * HOUR_MS, ttlMs: HOUR_MS }))
    const [outcome] = await renewer([file]).renewDue()
    assert.equal(outcome?.renewed, false)
    assert.match(outcome?.error ?? '', /is not the key the roster lists for val-hub/)
  })
})
