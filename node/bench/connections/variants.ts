import { join } from 'node:path'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { Registry } from 'prom-client'
import type { NodeKeyType } from '../../../membership/index.ts'
import { nodeNoiseCrypto } from '../../net/noise-crypto.ts'
import {
  benchFederation, benchNode, ECHO_PROTOCOL, LOAD_INBOUND_PER_IP_PER_SECOND, LOAD_LIMITS, LOAD_MAX_PENDING_CONNECTIONS, ownRoster, sharedStore, tcpAddr
} from '../federation.ts'
import { connectEchoClose, dialerFor, serveEcho } from './echo.ts'
import { mtlsBench } from './mtls.ts'

export const VARIANTS = ['fedgate', 'bare', 'bare-stock', 'mtls', 'fedgate-secp256k1'] as const
export type VariantName = typeof VARIANTS[number]

export const VARIANT_LABELS: Readonly<Record<VariantName, string>> = {
  'fedgate': 'fedgate: Noise (fedgate\'s crypto) + membership exchange + yamux + TCP, Ed25519 node keys',
  'bare': 'bare libp2p: Noise with the same crypto as fedgate (nodeNoiseCrypto) + yamux + TCP, Ed25519',
  'bare-stock': 'bare libp2p: Noise with its stock crypto + yamux + TCP, Ed25519 (what a stock node runs)',
  'mtls': 'Node tls, mutual TLS 1.3 (ECDSA P-256 certificates), one TLS socket per op',
  'fedgate-secp256k1': 'fedgate with secp256k1 node keys'
}

/** One variant, set up once and measured in several rounds. */
export interface Bench {
  /** One connection: connect, one request/response, close. `loop` picks the dialer. */
  op: (loop: number, iteration: number) => Promise<void>
  stop: () => Promise<void>
}

export interface VariantSetup {
  readonly concurrency: number
  /** Distinct dialer nodes (and keys) the loops rotate through. */
  readonly dialerPool: number
  /** libp2p's own metrics on every libp2p node, fedgate and bare alike. */
  readonly libp2pMetrics: boolean
}

export async function setUpVariant (name: VariantName, dir: string, setup: VariantSetup): Promise<Bench> {
  switch (name) {
    case 'fedgate': return await fedgateBench(join(dir, name), setup, 'Ed25519')
    case 'fedgate-secp256k1': return await fedgateBench(join(dir, name), setup, 'secp256k1')
    case 'bare': return await bareBench(setup, nodeNoiseCrypto)
    case 'bare-stock': return await bareBench(setup, defaultCrypto)
    case 'mtls': return await mtlsBench(join(dir, name))
  }
}

/** Dialer nodes per dialer member: a member's nodes share its connection cap. */
const DIALERS_PER_MEMBER = 8

async function fedgateBench (dir: string, setup: VariantSetup, keyType: NodeKeyType): Promise<Bench> {
  const dialerMembers = Array.from({ length: Math.max(1, Math.ceil(setup.dialerPool / DIALERS_PER_MEMBER)) }, (_, i) => `bench-dialers-${i}`)
  const fed = benchFederation('bench-listener', dialerMembers, LOAD_LIMITS.maxConnectionsPerMember)
  const { libp2pMetrics } = setup
  const listener = await benchNode(fed, { member: 'bench-listener', keyType, roster: await ownRoster(join(dir, 'listener'), fed.roster), listen: true, libp2pMetrics })
  await listener.handle(ECHO_PROTOCOL, serveEcho)
  const target = tcpAddr(listener.getMultiaddrs())
  const store = await sharedStore(join(dir, 'dialers'), fed.roster)
  const dialers = await Promise.all(Array.from({ length: setup.dialerPool }, async (_, i) =>
    benchNode(fed, { member: dialerMembers[i % dialerMembers.length] ?? 'bench-dialers-0', keyType, roster: store, listen: false, libp2pMetrics })))
  return {
    async op (loop, iteration) {
      await connectEchoClose(dialerFor(dialers, setup.concurrency, loop, iteration), target)
    },
    async stop () {
      await Promise.all([listener, ...dialers].map(async n => n.stop()))
      await store.close()
    }
  }
}

/** A stock libp2p node with fedgate's listener settings (per-IP throttles off, same pending cap). */
async function bareNode (listen: boolean, crypto: ICryptoInterface, libp2pMetrics: boolean): Promise<Libp2p> {
  return await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise({ crypto })],
    streamMuxers: [yamux()],
    metrics: libp2pMetrics ? prometheusMetrics({ registry: new Registry(), collectDefaultMetrics: false }) : undefined,
    connectionManager: {
      inboundConnectionThreshold: LOAD_INBOUND_PER_IP_PER_SECOND,
      maxIncomingPendingConnections: LOAD_MAX_PENDING_CONNECTIONS,
      maxConnections: LOAD_LIMITS.maxInboundConnections + LOAD_LIMITS.maxOutboundConnections
    }
  })
}

async function bareBench (setup: VariantSetup, crypto: ICryptoInterface): Promise<Bench> {
  const listener = await bareNode(true, crypto, setup.libp2pMetrics)
  await listener.handle(ECHO_PROTOCOL, serveEcho)
  const target = tcpAddr(listener.getMultiaddrs())
  const dialers = await Promise.all(Array.from({ length: setup.dialerPool }, async () => bareNode(false, crypto, setup.libp2pMetrics)))
  return {
    async op (loop, iteration) {
      await connectEchoClose(dialerFor(dialers, setup.concurrency, loop, iteration), target)
    },
    async stop () {
      await Promise.all([listener, ...dialers].map(async n => n.stop()))
    }
  }
}
