import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { PROTOCOL_PRESETS, type FederationNode, type PresetName } from '../../node/index.ts'
import { addrOf, createFederation, eventually, rejection, waitFor, type Federation } from './fixture.ts'
import { validatorStack } from './services.ts'

const VALIDATORS = ['val-1', 'val-2', 'val-3']
const PROTOCOLS = Object.fromEntries((['kad-dht', 'identify', 'ping'] as PresetName[]).flatMap(name => PROTOCOL_PRESETS[name].protocols.map(p => [p, ['validator']])))

/** kad-dht's routing table, which its published interface leaves out. */
interface RoutingTable { readonly size: number, find (peer: Libp2p['peerId']): Promise<Libp2p['peerId'] | undefined> }
const tableOf = (node: FederationNode): RoutingTable => (node.libp2p.services as { dht: { routingTable: RoutingTable } }).dht.routingTable

/** Outbound handshakes `node` refused towards `peerId` as `no-credential`. */
const outboundRefusals = (node: FederationNode, peerId: string): number =>
  node.refusals().filter(r => r.peerId === peerId && r.direction === 'outbound' && r.stage === 'handshake' && r.code === 'no-credential').length

describe('kad-dht on fedgate', () => {
  let fed: Federation
  let stock: Libp2p | undefined

  before(async () => {
    fed = await createFederation({ members: VALIDATORS.map(id => ({ id, roles: ['validator'] })), protocols: PROTOCOLS })
  })
  afterEach(async () => {
    await stock?.stop()
    await fed.stopAll()
  })
  after(async () => { await fed.close() })

  it('routing tables hold only members; an outsider refused once is not dialled again by PeerId or by a lookup', async () => {
    const nodes = await Promise.all(VALIDATORS.map(async id => fed.startNode(id, { libp2p: validatorStack({ dht: true }) })))
    const [v1, v2, v3] = nodes
    assert.ok(v1 !== undefined && v2 !== undefined && v3 !== undefined)
    // A stock libp2p node running the same DHT protocol, listening where a member can reach it.
    stock = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false },
      services: { identify: identify(), ping: ping(), dht: kadDHT({ clientMode: false, peerInfoMapper: passthroughMapper }) as unknown as (components: object) => KadDHT }
    })
    const outsider = stock.peerId.toString()

    await Promise.all([v1.dial(addrOf(v2)), v1.dial(addrOf(v3)), v2.dial(addrOf(v3))])
    await eventually(async () => {
      const found = await Promise.all(nodes.flatMap(node => nodes.filter(o => o !== node).map(async other => tableOf(node).find(other.libp2p.peerId))))
      return found.every(peer => peer !== undefined)
    }, 'every validator\'s routing table to hold the other two')
    // The outsider dials a member in and is refused; another member dialling its address is refused too.
    const refusedIn = waitFor(v2.gate, 'refused', r => r.peerId === outsider && r.code === 'no-credential')
    await stock.dial(addrOf(v2)).catch(() => undefined)
    await refusedIn
    const outsiderAddr = stock.getMultiaddrs()[0] ?? assert.fail('no address')
    await rejection(v1.dial(outsiderAddr), 'val-1 dialling the outsider')
    assert.equal(outboundRefusals(v1, outsider), 1)

    // Dialled again by PeerId, as a DHT query does: refused without a handshake.
    await rejection(v1.libp2p.dial(stock.peerId), 'val-1 dialling the outsider by PeerId')
    // A DHT lookup finds no address for it: members never stored one.
    const lookup = await v1.libp2p.peerRouting.findPeer(stock.peerId, { signal: AbortSignal.timeout(5_000) }).then(p => p.multiaddrs.map(String), () => [])
    assert.deepEqual(lookup, [])
    // Its address handed out again (as a DHT answer from a careless member would): denied before any socket opens.
    await rejection(v1.dial(outsiderAddr), 'val-1 dialling the outsider\'s address again')
    assert.equal(outboundRefusals(v1, outsider), 1)
    // Members kept no address for it, and no routing table holds it.
    assert.deepEqual(await v1.libp2p.peerStore.get(stock.peerId).then(p => p.addresses.length, () => 0), 0)
    for (const node of nodes) {
      assert.equal(await tableOf(node).find(stock.peerId), undefined)
      assert.equal(tableOf(node).size, 2)
    }
  })
})
