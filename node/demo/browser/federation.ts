import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { webSockets } from '@libp2p/websockets'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import writeFileAtomic from 'write-file-atomic'
import {
  addMember, allowProtocol, fromUtf8, generateSigningKey, initRoster, issueCredential, MalformedError, peerIdKeyType, signRoster, utf8,
  type Credential, type Roster, type SigningKey
} from '../../../membership/index.ts'
import { createFederationNode, type FederationNode } from '../../federation-node.ts'
import { generateNodeKey } from '../../node-key.ts'
import type { AdmittedPeer } from '../../types.ts'
import { ADMIN_COUNT, ADMIN_THRESHOLD, DEMO_FEDERATION, DEMO_PROTOCOLS, HEADERS } from '../federation.ts'
import type { DemoConfig, DemoTarget } from './contract.ts'

export const FULL_NODE = 'full-1'
export const LIGHT_MEMBER = 'light-1'
const LIGHT_ROLE = 'light-client'
/** Credentials the demo issues to browsers last this long. */
const BROWSER_CREDENTIAL_TTL_MS = 3_600_000
const MAX_REQUEST_BYTES = 1024
const LISTEN_WS = '/ip4/127.0.0.1/tcp/0/ws'
const LISTEN_TCP = '/ip4/127.0.0.1/tcp/0'

/** The nodes a browser light client meets in the demo, and the light-client member's credential desk. */
export interface BrowserFederation {
  readonly roster: Roster
  readonly config: DemoConfig
  /** The member full node, on TCP and WebSockets. */
  readonly full: FederationNode
  /** A fedgate node that claims member full-1 under a roster its own admin signed. */
  readonly impostor: FederationNode
  /** A stock libp2p node on WebSockets: Noise and yamux, no fedgate. */
  readonly stock: Libp2p
  /** Light clients the full node admitted, in order. */
  readonly admitted: readonly AdmittedPeer[]
  /** A credential of member light-1 for a browser's PeerId (what the member's issuing desk would hand out). */
  issue (peerId: string): Credential
  stop (): Promise<void>
}

/**
 * Starts the demo's nodes on 127.0.0.1 with their files under `dir`: a full node of member full-1
 * (TCP and /ws), an impostor that claims full-1 with a credential its own admin's roster vouches
 * for, and a stock libp2p node. The roster lists full-1 and the light-client member light-1.
 */
export async function startBrowserFederation (dir: string): Promise<BrowserFederation> {
  const admins = Array.from({ length: ADMIN_COUNT }, () => generateSigningKey('admin'))
  const fullKey = generateSigningKey('member')
  const lightKey = generateSigningKey('member')
  let draft = initRoster({ federation: DEMO_FEDERATION, admins: admins.map(a => a.publicKey), threshold: ADMIN_THRESHOLD })
  for (const [protocol, roles] of DEMO_PROTOCOLS) draft = allowProtocol(draft, protocol, roles)
  draft = addMember(draft, { id: FULL_NODE, org: 'explorer', roles: ['full-node'], key: fullKey.publicKey })
  draft = addMember(draft, { id: LIGHT_MEMBER, org: 'wallet', roles: [LIGHT_ROLE], key: lightKey.publicKey })
  const roster = admins.slice(0, ADMIN_THRESHOLD).reduce((r, admin) => signRoster(r, admin), draft)

  const started: Array<{ stop (): void | Promise<void> }> = []
  try {
    const full = await startNode(FULL_NODE, join(dir, FULL_NODE), roster, fullKey, [LISTEN_TCP, LISTEN_WS])
    started.push(full)
    const impostorKey = generateSigningKey('member')
    const impostor = await startNode('impostor', join(dir, 'impostor'), impostorRoster(impostorKey, lightKey), impostorKey, [LISTEN_WS])
    started.push(impostor)
    const stock = await createLibp2p({ addresses: { listen: [LISTEN_WS] }, transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    started.push(stock)
    const admitted: AdmittedPeer[] = []
    full.gate.addEventListener('admitted', evt => { if (evt.detail.roles.includes(LIGHT_ROLE)) admitted.push(evt.detail) })
    const targets: DemoTarget[] = [
      { name: FULL_NODE, description: 'full node of member full-1, listening on WebSockets', addr: wsAddr(full.getMultiaddrs()), expect: 'admitted' },
      { name: 'impostor', description: 'claims member full-1 with a credential its own admin vouches for, under a key the roster does not list', addr: wsAddr(impostor.getMultiaddrs()), expect: 'refused' },
      { name: 'stock libp2p', description: 'a stock libp2p node: Noise and yamux, no fedgate', addr: wsAddr(stock.getMultiaddrs()), expect: 'refused' }
    ]
    return {
      roster,
      config: { federation: roster.federation, member: LIGHT_MEMBER, role: LIGHT_ROLE, epochs: [roster.encode()], trustRoot: { federation: roster.federation, fingerprint: roster.fingerprint }, protocol: HEADERS, targets },
      full,
      impostor,
      stock,
      admitted,
      issue: peerId => {
        if (peerIdKeyType(peerId) === undefined) throw new MalformedError('$.peerId', 'not an Ed25519 or secp256k1 PeerId; send the PeerId of the key the page made')
        return issueCredential({ roster, memberKey: lightKey, memberId: LIGHT_MEMBER, peer: peerId, roles: [LIGHT_ROLE], ttlMs: BROWSER_CREDENTIAL_TTL_MS })
      },
      stop: async () => { await Promise.all(started.map(async node => node.stop())) }
    }
  } catch (err) {
    await Promise.all(started.map(async node => node.stop()))
    throw err
  }
}

/**
 * A fedgate node of member full-1 whose files live in `home`. The chain protocols answer with how
 * the node saw the caller: a light client reads back the member and roles the node verified.
 */
async function startNode (name: string, home: string, roster: Roster, memberKey: SigningKey, listen: string[]): Promise<FederationNode> {
  await mkdir(home, { recursive: true })
  const rosterFile = join(home, 'roster.json')
  await writeFileAtomic(rosterFile, roster.encode(), { fsync: true })
  const nodeKey = await generateNodeKey()
  const credential = issueCredential({ roster, memberKey, memberId: FULL_NODE, peer: nodeKey.peerId, roles: ['full-node'] })
  const node = await createFederationNode({ key: nodeKey, credential, roster: { dataDir: join(home, 'data'), rosterFile }, listen, libp2pMetrics: false, bans: false })
  for (const [protocol] of DEMO_PROTOCOLS) {
    await node.handle(protocol, async (stream, _connection, peer) => {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
      const request = fromUtf8((await lp.read()).subarray())
      await lp.write(utf8(`${name} verified you as ${peer.memberId} [${peer.roles.join(', ')}]; answering "${request}"`))
      await stream.close()
    })
  }
  return node
}

/**
 * The impostor's own federation: same name, its own admin, full-1 under the impostor's member key,
 * and light-1 copied from the real roster, so that it lets light clients in and they judge it.
 */
function impostorRoster (impostorKey: SigningKey, lightKey: SigningKey): Roster {
  const admin = generateSigningKey('admin')
  let draft = initRoster({ federation: DEMO_FEDERATION, admins: [admin.publicKey], threshold: 1 })
  for (const [protocol, roles] of DEMO_PROTOCOLS) draft = allowProtocol(draft, protocol, roles)
  draft = addMember(draft, { id: FULL_NODE, org: 'explorer', roles: ['full-node'], key: impostorKey.publicKey })
  draft = addMember(draft, { id: LIGHT_MEMBER, org: 'wallet', roles: [LIGHT_ROLE], key: lightKey.publicKey })
  return signRoster(draft, admin)
}

function wsAddr (addrs: ReadonlyArray<{ toString (): string }>): string {
  const addr = addrs.map(String).find(a => a.includes('/ws/'))
  if (addr === undefined) throw new Error('demo: a node has no WebSocket listen address')
  return addr
}
