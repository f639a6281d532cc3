import { gossipsub, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import type { FederationNode } from '../../node/index.ts'
import type { StartNodeOptions } from './fixture.ts'

/**
 * The libp2p services a validator stack runs on fedgate in these tests: the real @libp2p/identify,
 * @libp2p/ping, @libp2p/gossipsub and (when asked) @libp2p/kad-dht, as an embedder would add them.
 */
export interface StackOptions {
  gossipsub?: Partial<GossipsubOpts>
  /** Add a kad-dht in server mode. @default false */
  dht?: boolean
}

export const TOPIC = 'blocks'

type Services = NonNullable<NonNullable<StartNodeOptions['libp2p']>['services']>

export function validatorStack (opts: StackOptions = {}): StartNodeOptions['libp2p'] {
  // 127.0.0.1 addresses: keep them (kad-dht drops private addresses by default). kad-dht's factory names the ping service among its components, which libp2p's map type cannot see.
  const dht = { dht: kadDHT({ clientMode: false, allowQueryWithZeroPeers: true, peerInfoMapper: passthroughMapper }) } as unknown as Services
  return {
    services: {
      identify: identify(),
      ping: ping(),
      // A short heartbeat so a mesh forms and heals within a test's patience.
      pubsub: gossipsub({ heartbeatInterval: 200, emitSelf: false, ...opts.gossipsub }),
      ...(opts.dht === true ? dht : {})
    }
  }
}

/** gossipsub's implementation has getMeshPeers; its published interface does not. */
export type GossipSubNode = GossipSub & { getMeshPeers (topic: string): string[] }

/** The node's gossipsub service. */
export function pubsubOf (node: FederationNode): GossipSubNode {
  return (node.libp2p.services as { pubsub: GossipSubNode }).pubsub
}

export function identifyOf (node: FederationNode): Identify {
  return (node.libp2p.services as { identify: Identify }).identify
}

export function dhtOf (node: FederationNode): KadDHT {
  return (node.libp2p.services as { dht: KadDHT }).dht
}
