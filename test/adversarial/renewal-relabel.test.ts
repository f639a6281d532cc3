import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { lpStream } from '@libp2p/utils'
import { RENEW_PROTOCOL, type Credential, type FederationNode } from '../../node/index.ts'
import { decodeVerdict } from '../../node/net/hello.ts'
import { addrOf, createFederation, eventually, waitFor, WAIT_MS, type Federation } from '../node/fixture.ts'

/**
 * Two colluding members try to move a connection from one member to the other through the renewal
 * protocol, which used to free the first member's slots and let them fill a validator's inbound
 * slots. A renewal must keep the member and the roles admitted; anything else is refused and the
 * connection closed.
 */
describe('adversarial: renewal that relabels a connection', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-1', roles: ['validator'] },
        { id: 'mallory-a', roles: ['validator'], maxConnections: 1 },
        { id: 'mallory-b', roles: ['validator', 'relayer'] },
        { id: 'val-3', roles: ['validator', 'relayer'] }
      ]
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  /** Pushes `credential` as a renewal from `from` to `victim`; returns the victim's verdict. */
  async function pushRenewal (from: FederationNode, victim: FederationNode, credential: Credential): Promise<string> {
    const connection = await from.dial(addrOf(victim))
    const stream = await connection.newStream(RENEW_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(new TextEncoder().encode(credential.encode()), { signal: AbortSignal.timeout(WAIT_MS) })
    return decodeVerdict((await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })).subarray())
  }

  it('a credential from another member for the same node key is refused with member-mismatch and the connection closed', async () => {
    const victim = await fed.startNode('victim', { member: 'val-1' })
    const a = await fed.startNode('mallory-a')
    await a.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.memberId === 'mallory-a'), 'the victim to admit mallory-a')
    // mallory-b's member key signs a credential for mallory-a's node key.
    const relabel = await fed.issue('mallory-a', { member: 'mallory-b', roles: ['validator'] })
    const dropped = waitFor(victim.gate, 'disconnected', d => d.peerId === a.peerId)
    assert.equal(await pushRenewal(a, victim, relabel), 'member-mismatch')
    assert.equal((await dropped).code, 'member-mismatch')
    assert.ok(!victim.peers().some(p => p.memberId === 'mallory-b'), 'never relabelled')
  })

  it('a renewal from the same member that claims a role beyond those admitted is refused and the connection closed', async () => {
    const victim = await fed.startNode('victim', { member: 'val-1' })
    const node = await fed.startNode('val-3', { credential: await fed.issue('val-3', { roles: ['validator'] }) })
    await node.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === node.peerId), 'the victim to admit val-3')
    const wider = await fed.issue('val-3', { roles: ['validator', 'relayer'] })
    const dropped = waitFor(victim.gate, 'disconnected', d => d.peerId === node.peerId)
    assert.equal(await pushRenewal(node, victim, wider), 'member-mismatch')
    assert.equal((await dropped).code, 'member-mismatch')
  })

  it('a renewal that keeps the member and narrows or keeps the roles is applied on the same connection (control)', async () => {
    const victim = await fed.startNode('victim', { member: 'val-1' })
    const node = await fed.startNode('val-3')
    const connection = await node.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.peerId === node.peerId), 'the victim to admit val-3')
    const narrower = await fed.issue('val-3', { roles: ['validator'] })
    const renewed = waitFor(victim.gate, 'credential-renewed', r => r.peerId === node.peerId)
    assert.equal(await pushRenewal(node, victim, narrower), 'ok')
    assert.deepEqual((await renewed).roles, ['validator'])
    assert.equal(connection.status, 'open')
    assert.deepEqual(victim.gate.rolesOf(node.peerId), ['validator'])
  })
})
