import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { noise, pureJsCrypto } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { nodeNoiseCrypto } from '../../node/index.ts'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'))
/** The same bytes as a list of two chunks, the way Noise hands over keys it read off the wire. */
const split = (b: Uint8Array): Uint8ArrayList => new Uint8ArrayList(b.slice(0, 7), b.slice(7))

// RFC 7748 section 6.1
const ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
const BOB_PRIVATE = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'

describe('nodeNoiseCrypto: X25519', () => {
  it('derives the RFC 7748 public keys and shared secret', () => {
    assert.equal(hex(nodeNoiseCrypto.generateX25519KeyPairFromSeed(bytes(ALICE_PRIVATE)).publicKey), ALICE_PUBLIC)
    assert.equal(hex(nodeNoiseCrypto.generateX25519KeyPairFromSeed(bytes(BOB_PRIVATE)).publicKey), BOB_PUBLIC)
    assert.equal(hex(nodeNoiseCrypto.generateX25519SharedKey(bytes(ALICE_PRIVATE), bytes(BOB_PUBLIC))), SHARED)
    assert.equal(hex(nodeNoiseCrypto.generateX25519SharedKey(split(bytes(BOB_PRIVATE)), split(bytes(ALICE_PUBLIC)))), SHARED)
  })

  it('agrees with the stock pure-JS crypto on fresh key pairs, in both directions', () => {
    for (let i = 0; i < 20; i++) {
      const ours = nodeNoiseCrypto.generateX25519KeyPair()
      const theirs = pureJsCrypto.generateX25519KeyPair()
      assert.equal(ours.publicKey.byteLength, 32)
      assert.equal(ours.privateKey.byteLength, 32)
      assert.equal(hex(pureJsCrypto.generateX25519KeyPairFromSeed(ours.privateKey).publicKey), hex(ours.publicKey))
      const secret = hex(pureJsCrypto.generateX25519SharedKey(theirs.privateKey, ours.publicKey))
      assert.equal(hex(nodeNoiseCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey)), secret)
      // The same key objects again (cached), and as chunked lists (imported afresh).
      assert.equal(hex(nodeNoiseCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey)), secret)
      assert.equal(hex(nodeNoiseCrypto.generateX25519SharedKey(split(ours.privateKey), split(theirs.publicKey))), secret)
      assert.equal(hex(nodeNoiseCrypto.generateX25519SharedKey(theirs.privateKey, ours.publicKey)), secret)
    }
  })

  it('refuses keys that are not 32 bytes', () => {
    const pair = nodeNoiseCrypto.generateX25519KeyPair()
    assert.throws(() => nodeNoiseCrypto.generateX25519SharedKey(pair.privateKey, new Uint8Array(31)), { name: 'TypeError' })
    assert.throws(() => nodeNoiseCrypto.generateX25519SharedKey(new Uint8Array(33), pair.publicKey), { name: 'TypeError' })
    assert.throws(() => nodeNoiseCrypto.generateX25519SharedKey(pair.privateKey, new Uint8ArrayList()), { name: 'TypeError' })
  })
})

describe('nodeNoiseCrypto: interop with stock Noise', () => {
  const ECHO = '/test/echo/1.0.0'
  const nodes: Libp2p[] = []

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => n.stop()))
  })

  async function node (encrypter: ReturnType<typeof noise>): Promise<Libp2p> {
    const created = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [encrypter],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false }
    })
    nodes.push(created)
    await created.handle(ECHO, async stream => {
      const lp = lpStream(stream)
      await lp.write((await lp.read()).subarray())
      await stream.close()
    })
    return created
  }

  async function roundTrip (from: Libp2p, to: Libp2p): Promise<void> {
    const addr = to.getMultiaddrs()[0]
    assert.ok(addr !== undefined)
    // A fresh connection each time: the previous one may still be closing on the other side.
    const connection = await from.dial(addr, { force: true })
    assert.equal(connection.encryption, '/noise')
    assert.equal(connection.remotePeer.toString(), to.peerId.toString())
    const payload = randomBytes(3000)
    const lp = lpStream(await connection.newStream(ECHO))
    await lp.write(payload)
    assert.equal(hex((await lp.read()).subarray()), hex(payload))
    await connection.close()
  }

  it('completes handshakes and carries data with a default-crypto noise() node, both as dialer and as listener', async () => {
    const fast = await node(noise({ crypto: nodeNoiseCrypto }))
    const stock = await node(noise())
    await roundTrip(fast, stock)
    await roundTrip(stock, fast)
    await roundTrip(fast, stock)
  })
})
