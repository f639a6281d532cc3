/**
 * The listening end of the bare libp2p baseline, run as its own process (as a daemon is): TCP,
 * Noise with fedgate's crypto (nodeNoiseCrypto), yamux, and no fedgate. It serves the sink and
 * echo protocols, prints its multiaddr on stdout, and stops on SIGTERM.
 */
import { bareNode, serveEcho, serveSink, BARE_ECHO, BARE_SINK } from './bare.ts'

const node = await bareNode(true)
await node.handle(BARE_SINK, stream => { serveSink(stream) }, { maxInboundStreams: 1024 })
await node.handle(BARE_ECHO, stream => { serveEcho(stream) }, { maxInboundStreams: 1024 })
process.stdout.write(`${node.getMultiaddrs()[0]?.toString() ?? ''}\n`)
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).then(() => { process.exit(0) }) })
