import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'

/**
 * A TCP proxy that adds latency, for a machine where `tc netem` is not available: every chunk, each
 * way, is forwarded `oneWayMs` after it arrived (in order: timers of one duration fire in the order
 * they were set), so a round trip through it takes 2 × oneWayMs more. The TCP handshake itself is
 * not delayed: the proxy accepts at once and connects upstream at once.
 */
export class DelayProxy {
  readonly host: string
  readonly port: number
  readonly oneWayMs: number
  private readonly server: ReturnType<typeof createServer>
  private readonly sockets: Set<Socket>

  private constructor (server: ReturnType<typeof createServer>, sockets: Set<Socket>, host: string, oneWayMs: number) {
    this.server = server
    this.sockets = sockets
    this.host = host
    this.port = (server.address() as AddressInfo).port
    this.oneWayMs = oneWayMs
  }

  /** Listens on `listen.host` (port 0 unless given) and forwards to `target`. */
  static async start (init: { listen: { host: string, port?: number }, target: { host: string, port: number }, oneWayMs: number }): Promise<DelayProxy> {
    const sockets = new Set<Socket>()
    const server = createServer(client => {
      const upstream = createConnection(init.target)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.once('close', () => { sockets.delete(s) })
      }
      pipeDelayed(client, upstream, init.oneWayMs)
      pipeDelayed(upstream, client, init.oneWayMs)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(init.listen.port ?? 0, init.listen.host, () => { server.off('error', reject); resolve() })
    })
    return new DelayProxy(server, sockets, init.listen.host, init.oneWayMs)
  }

  /** Stops listening and cuts every proxied connection. */
  async close (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }
}

/** Writes what `from` reads to `to`, `delayMs` later; an end or error travels the same way. */
function pipeDelayed (from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk: Buffer) => {
    setTimeout(() => { if (!to.destroyed) to.write(chunk) }, delayMs)
  })
  from.once('end', () => { setTimeout(() => { to.end() }, delayMs) })
  from.once('error', () => { setTimeout(() => { to.destroy() }, delayMs) })
  from.once('close', () => { setTimeout(() => { to.destroy() }, delayMs) })
}
