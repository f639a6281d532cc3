import { noise, type NoiseComponents } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { ConnectionEncrypter, Libp2p, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { ENCRYPTER_PROTOCOL, MembershipRefusedError, type Credential, type NodeKey } from '../../node/index.ts'
import { decodeHello, encodeHello, encodeVerdict } from '../../node/net/hello.ts'

/**
 * Rogue peers for attack tests: a libp2p node that negotiates fedgate's protocol id and completes
 * Noise honestly, then does whatever its script says instead of the membership exchange.
 */

/** What a rogue does inside the Noise channel instead of fedgate's membership exchange. */
export type RogueScript = (lp: LengthPrefixedStream<MessageStream>, secured: SecuredConnection, signal: AbortSignal | undefined) => Promise<void>

/**
 * An encrypter that negotiates fedgate's protocol id and completes Noise honestly (so the victim
 * reaches its membership exchange), then follows `script` instead of the fedgate protocol.
 */
export function rogueEncrypter (script: RogueScript): (components: NoiseComponents) => ConnectionEncrypter {
  return components => {
    const inner = noise()(components)
    const run = async (secured: SecuredConnection, options?: SecureConnectionOptions): Promise<SecuredConnection> => {
      const lp = lpStream(secured.connection)
      await script(lp, secured, options?.signal)
      return { ...secured, connection: lp.unwrap() }
    }
    return {
      protocol: ENCRYPTER_PROTOCOL,
      secureOutbound: async (connection, options) => run(await inner.secureOutbound(connection, options), options),
      secureInbound: async (connection, options) => run(await inner.secureInbound(connection, options), options)
    }
  }
}

/** A plain libp2p node (TCP, yamux) speaking through a rogue encrypter. */
export async function rogueNode (key: NodeKey, script: RogueScript): Promise<Libp2p> {
  return createLibp2p({
    privateKey: key.privateKey,
    transports: [tcp()],
    connectionEncrypters: [rogueEncrypter(script)],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
}

/** Plays the dialer's side of the membership exchange faithfully, but with any credential. */
export function presents (credential: Credential): RogueScript {
  return async (lp, _secured, signal) => {
    await lp.write(encodeHello({ federation: credential.federation, rosterEpoch: 1, credential }), { signal })
    await readVerdict(lp, signal)
    await lp.write(encodeVerdict('ok'), { signal })
  }
}

/** Reads the listener's answer; a refusal is thrown the way fedgate reports it, so `refusalOf` reads it. */
export async function readVerdict (lp: LengthPrefixedStream<MessageStream>, signal: AbortSignal | undefined): Promise<void> {
  const { verdict } = decodeHello((await lp.read({ signal })).subarray(), true)
  if (verdict !== 'ok' && verdict !== undefined) throw new MembershipRefusedError(verdict, 'remote')
}

