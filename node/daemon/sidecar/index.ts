export { Sidecar, type SidecarInit, type SidecarStatus } from './sidecar.ts'
export {
  parseExposeList, parseForwardList, parseExposeFlag, parseForwardFlag, checkFlagLists, describeForwardPeer, SERVICE_NAME, TUNNEL_MODES,
  type ExposeConfig, type ForwardConfig, type ForwardPeer, type TunnelMode
} from './config.ts'
export { tunnelProtocol, encodeTunnelVerdict, readTunnelVerdict, type TunnelVerdict } from './protocol.ts'
export { MEMBER_HEADER, ROLES_HEADER, PEER_HEADER } from './http-proxy.ts'
export { proxyV2Header, type Endpoint } from './proxy-protocol.ts'
export { TARGET_CONNECT_TIMEOUT_MS, MAX_TUNNELS_PER_CONNECTION } from './expose.ts'
export { TUNNEL_OPEN_TIMEOUT_MS } from './forward.ts'
export { StreamDuplex } from './stream-duplex.ts'
export { splice, type SpliceEnd } from './splice.ts'
export type { TunnelStatus, TunnelSide } from './tunnels.ts'
