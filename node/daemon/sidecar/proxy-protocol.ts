import { isIP } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'
import { multiaddr } from '@multiformats/multiaddr'

/** An IP endpoint, as the PROXY header carries it. */
export interface Endpoint {
  readonly ip: string
  readonly port: number
}

/** The PROXY protocol v2 signature (haproxy's proxy-protocol.txt, section 2.2). */
const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const VERSION_2_PROXY = 0x21
const TCP_OVER_IPV4 = 0x11
const TCP_OVER_IPV6 = 0x21
const UNSPEC = 0x00

/**
 * A PROXY protocol v2 header (binary) telling the target that the connection comes from `source`
 * and was made to `destination`. Mixed families are sent as IPv6 (IPv4-mapped); an endpoint that is
 * not an IP gives an UNSPEC header, which tells the target to use the connection's own addresses.
 */
export function proxyV2Header (source: Endpoint | undefined, destination: Endpoint | undefined): Buffer {
  const header = Buffer.alloc(16)
  SIGNATURE.copy(header)
  header[12] = VERSION_2_PROXY
  if (source === undefined || destination === undefined || isIP(source.ip) === 0 || isIP(destination.ip) === 0) {
    header[13] = UNSPEC
    return header
  }
  const v4 = isIP(source.ip) === 4 && isIP(destination.ip) === 4
  const addresses = Buffer.concat([ipBytes(source.ip, v4), ipBytes(destination.ip, v4), port(source.port), port(destination.port)])
  header[13] = v4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6
  header.writeUInt16BE(addresses.byteLength, 14)
  return Buffer.concat([header, addresses])
}

/** The IP and TCP port of a multiaddr such as `/ip4/10.0.0.1/tcp/4001/p2p/…`, if it has both. */
export function endpointOf (addr: Multiaddr): Endpoint | undefined {
  const [host, tcp] = addr.getComponents()
  if ((host?.name !== 'ip4' && host?.name !== 'ip6') || tcp?.name !== 'tcp' || host.value === undefined) return undefined
  return { ip: host.value, port: Number(tcp.value) }
}

/** 4 bytes for IPv4 (when `v4`), else 16 (IPv4 becomes ::ffff:a.b.c.d). */
function ipBytes (ip: string, v4: boolean): Buffer {
  if (v4) return Buffer.from(ip.split('.').map(Number))
  const v6 = isIP(ip) === 4 ? `::ffff:${ip}` : ip
  // A multiaddr's binary form is the protocol code (one byte for ip6) followed by the address bytes.
  return Buffer.from(multiaddr(`/ip6/${v6}`).bytes.subarray(1))
}

function port (value: number): Buffer {
  const bytes = Buffer.alloc(2)
  bytes.writeUInt16BE(value)
  return bytes
}
