import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import { webSockets, type WebSocketsComponents, type WebSocketsInit } from '@libp2p/websockets'

/** Close code of a reset where the socket cannot be destroyed (a browser's WebSocket accepts only 1000 and 3000–4999). */
export const WEBSOCKET_RESET_CODE = 4000

/** The socket behind a @libp2p/websockets connection: `ws` on Node (which has terminate), the WebSocket API in a browser. */
interface Socket {
  close (code?: number): void
  terminate?: () => void
}

/**
 * `webSockets()` whose connections can be cut. @libp2p/websockets 10 resets a connection with
 * `websocket.close(1006)`, a code RFC 6455 forbids sending: `ws` and browsers throw, libp2p swallows
 * the error, and the socket of an aborted connection stays open. Every cut fedgate makes (a per-IP
 * pending-handshake cap, the first-bytes and handshake deadlines, a refusal) is an abort, so this
 * transport gives each connection a reset that works before the upgrader sees it: `terminate()`
 * where the socket has one, else a close with WEBSOCKET_RESET_CODE.
 */
export function resettableWebSockets (init: WebSocketsInit = {}): (components: WebSocketsComponents) => Transport {
  return components => {
    const inner = webSockets(init)(components)
    const transport: Transport = Object.create(inner)
    transport.dial = async (ma, options) => inner.dial(ma, { ...options, upgrader: withWorkingReset(options.upgrader) })
    transport.createListener = options => inner.createListener({ ...options, upgrader: withWorkingReset(options.upgrader) })
    return transport
  }
}

function withWorkingReset (upgrader: Upgrader): Upgrader {
  const fixed: Upgrader = Object.create(upgrader)
  fixed.upgradeInbound = async (maConn, opts) => upgrader.upgradeInbound(resettable(maConn), opts)
  fixed.upgradeOutbound = async (maConn, opts) => upgrader.upgradeOutbound(resettable(maConn), opts)
  return fixed
}

function resettable (maConn: MultiaddrConnection): MultiaddrConnection {
  const socket = (maConn as unknown as { websocket?: Socket }).websocket
  if (socket === undefined) return maConn
  const reset = (): void => {
    if (typeof socket.terminate === 'function') socket.terminate()
    else socket.close(WEBSOCKET_RESET_CODE)
  }
  Object.defineProperty(maConn, 'sendReset', { value: reset })
  return maConn
}
