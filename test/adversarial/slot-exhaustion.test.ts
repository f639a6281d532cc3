import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { refusalOf, type FederationNode } from '../../node/index.ts'
import { addrOf, createFederation, eventually, rejection, waitFor, type Federation } from '../node/fixture.ts'

const LIGHTS = 10
const MAX_INBOUND = 10

/**
 * Light clients (or relayers) filling a validator's inbound slots used to keep other validators
 * out with `connection-limit`. Inbound capacity is now split by role class: a validator, which the
 * victim must reach, always finds room, and a class under its share takes the place of one over it.
 */
describe('adversarial: slot exhaustion by role', () => {
  let fed: Federation

  before(async () => {
    fed = await createFederation({
      members: [
        { id: 'val-1', roles: ['validator'], org: 'acme' },
        { id: 'val-2', roles: ['validator'], org: 'birch' },
        { id: 'relay-1', roles: ['relayer'], org: 'bridgeco' },
        ...Array.from({ length: LIGHTS + 1 }, (_, i) => ({ id: `light-${i}`, roles: ['light-client'], org: `wallet-${i}` }))
      ],
      policy: {
        limits: { maxInboundConnections: MAX_INBOUND },
        accepts: { 'validator': ['validator', 'relayer', 'full-node', 'light-client'] }
      }
    })
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => { await fed.close() })

  /** Starts `count` light clients and connects each to `victim`. */
  async function fill (victim: FederationNode, count: number): Promise<FederationNode[]> {
    const lights: FederationNode[] = []
    for (let i = 0; i < count; i++) {
      const light = await fed.startNode(`light-${i}`)
      await light.dial(addrOf(victim))
      lights.push(light)
    }
    await eventually(() => victim.peers().length === count, 'the light clients to fill the inbound slots')
    return lights
  }

  it('a validator still gets in when light clients hold every inbound slot: a light client is evicted, never the validator', async () => {
    const victim = await fed.startNode('val-1')
    await fill(victim, MAX_INBOUND)
    assert.equal(victim.gate.slotUse().inbound.held, MAX_INBOUND)
    const validator = await fed.startNode('val-2')
    const evicted = waitFor(victim.gate, 'disconnected', d => d.code === 'evicted')
    await validator.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.memberId === 'val-2'), 'the validator to be admitted')
    assert.match((await evicted).memberId ?? '', /^light-/)
    assert.equal(victim.gate.slotUse().inboundByClass.validator?.held, 1)
  })

  it('a relayer, under its class share, takes the place of the most recent light client; a further light client is refused', async () => {
    const victim = await fed.startNode('val-1')
    const lights = await fill(victim, MAX_INBOUND)
    const relayer = await fed.startNode('relay-1')
    const evicted = waitFor(victim.gate, 'disconnected', d => d.code === 'evicted')
    await relayer.dial(addrOf(victim))
    assert.equal((await evicted).peerId, lights.at(-1)?.peerId, 'the most recent light client goes first')
    await eventually(() => victim.peers().some(p => p.memberId === 'relay-1'), 'the relayer to be admitted')
    // Light clients are over their share: another one is refused rather than evict anyone.
    const late = await fed.startNode(`light-${LIGHTS}`)
    const err = await rejection(late.dial(addrOf(victim)), 'a light client beyond the capacity')
    assert.deepEqual(refusalOf(err), { code: 'connection-limit', by: 'remote' })
    assert.ok(victim.peers().some(p => p.memberId === 'relay-1'))
  })
})
