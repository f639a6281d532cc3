/** The IP in a multiaddr string such as /ip4/1.2.3.4/tcp/5, or undefined for other addresses. */
export function ipOf (addr: string | undefined): string | undefined {
  const match = addr === undefined ? null : /^\/ip[46]\/([^/]+)/.exec(addr)
  return match?.[1]
}

/** The remote address of a libp2p connection-like object, as a string, when it has one. */
export function remoteAddrOf (conn: unknown): string | undefined {
  const addr = (conn as { remoteAddr?: { toString (): string } } | undefined)?.remoteAddr
  return addr?.toString()
}
