import { connect, isIP, type Socket } from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import type { FederationNode } from '../../federation-node.ts'
import type { AdmittedPeer } from '../../types.ts'
import { formatHostPort } from '../config-values.ts'
import type { ExposeConfig } from './config.ts'
import { HttpExpose } from './http-proxy.ts'
import { encodeTunnelVerdict, tunnelProtocol } from './protocol.ts'
import { endpointOf, proxyV2Header, type Endpoint } from './proxy-protocol.ts'
import { bridge } from './bridge.ts'
import type { Tunnel, Tunnels } from './tunnels.ts'

/** A target that has not accepted the TCP connection by then is `target-unreachable`. */
export const TARGET_CONNECT_TIMEOUT_MS = 10_000
/** Tunnels of one service that one peer connection may carry at once (libp2p's default is 32). */
export const MAX_TUNNELS_PER_CONNECTION = 1024

export interface ExposedServiceInit {
  readonly node: FederationNode
  readonly tunnels: Tunnels
  readonly config: ExposeConfig
}

/**
 * One exposed service: the node serves `/fedgate/tcp/<name>/1.0.0` (the stream guard admits only
 * the roles the roster allows on it), and each inbound stream becomes a TCP connection to the
 * target: the bytes as they are, optionally after a PROXY v2 header, or in HTTP mode through a
 * proxy that names the caller in headers.
 */
export class ExposedService {
  readonly protocol: string
  private readonly init: ExposedServiceInit
  private readonly http: HttpExpose | undefined
  private readonly callers = new WeakMap<object, Tunnel>()

  constructor (init: ExposedServiceInit) {
    this.init = init
    this.protocol = tunnelProtocol(init.config.name)
    this.http = init.config.mode === 'http'
      ? new HttpExpose({
        target: init.config.target,
        caller: duplex => {
          const tunnel = this.callers.get(duplex)
          return tunnel === undefined ? undefined : init.node.gate.peerOf(tunnel.init.connection)
        },
        requestFailed: (duplex, reason, detail) => {
          const tunnel = this.callers.get(duplex)
          init.tunnels.requestFailed({ service: init.config.name, reason, detail, local: formatHostPort(init.config.target), tunnel: tunnel?.id, memberId: tunnel?.init.peer.memberId })
        }
      })
      : undefined
  }

  get config (): ExposeConfig {
    return this.init.config
  }

  async start (): Promise<void> {
    await this.init.node.handle(this.protocol, (stream, connection, peer) => { void this.accept(stream, connection, peer) }, {
      maxInboundStreams: MAX_TUNNELS_PER_CONNECTION,
      maxOutboundStreams: MAX_TUNNELS_PER_CONNECTION
    })
  }

  async stop (): Promise<void> {
    await this.init.node.unhandle(this.protocol)
  }

  private async accept (stream: Stream, connection: Connection, peer: AdmittedPeer): Promise<void> {
    const { config, tunnels } = this.init
    const local = formatHostPort(config.target)
    // Nothing is read until the target is connected; a paused stream grants the peer no more send credit.
    stream.pause()
    let socket: Socket | undefined
    if (config.mode === 'tcp') {
      try {
        socket = await connectTarget(config.target.host, config.target.port)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err)
        tunnels.refused({ service: config.name, side: 'expose', reason: 'target-unreachable', local, memberId: peer.memberId, peerId: peer.peerId, detail: code })
        await this.refuse(stream)
        return
      }
    }
    if (stream.status !== 'open') {
      socket?.destroy()
      return
    }
    if (socket !== undefined && config.proxyProtocol) socket.write(proxyV2Header(endpointOf(connection.remoteAddr), this.listenEndpoint(connection)))
    stream.send(encodeTunnelVerdict('ok'))
    const tunnel = tunnels.add({ service: config.name, side: 'expose', stream, connection, peer, local })
    if (socket !== undefined) {
      tunnels.close(tunnel, await bridge(socket, stream, tunnel))
      return
    }
    const duplex = tunnel.duplex()
    this.callers.set(duplex, tunnel)
    tunnels.close(tunnel, await this.http?.serve(duplex))
  }

  /** Tells the forwarding node why, then closes the stream (it is reset if the peer does not take it). */
  private async refuse (stream: Stream): Promise<void> {
    try {
      stream.send(encodeTunnelVerdict('target-unreachable'))
      await stream.close({ signal: AbortSignal.timeout(TARGET_CONNECT_TIMEOUT_MS) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** The address the peer reached this node at, for the PROXY header: a listen address of its family. */
  private listenEndpoint (connection: Connection): Endpoint | undefined {
    const family = isIP(endpointOf(connection.remoteAddr)?.ip ?? '')
    return this.init.node.getMultiaddrs().map(endpointOf).find(e => e !== undefined && isIP(e.ip) === family)
  }
}

async function connectTarget (host: string, port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true, noDelay: true })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(Object.assign(new Error(`no answer within ${TARGET_CONNECT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }))
    }, TARGET_CONNECT_TIMEOUT_MS)
    const onError = (err: Error): void => {
      clearTimeout(timer)
      reject(err)
    }
    socket.once('error', onError)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(socket)
    })
  })
}
