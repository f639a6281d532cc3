import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { webSockets } from '@libp2p/websockets'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { FederationNode } from '../../node/index.ts'
import { createFederation, echo, eventually, HEADERS, recordingEcho, rejection, WAIT_MS, waitFor, type Federation } from './fixture.ts'

const WS_LOCALHOST = '/ip4/127.0.0.1/tcp/0/ws'
const WS_ADDR = /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws(\/p2p\/\w+)?$/

/** The node's WebSocket listen address (with /p2p/PeerId). */
function wsAddrOf (node: FederationNode): Multiaddr {
  const addr = node.getMultiaddrs().find(a => a.getComponents().some(c => c.name === 'ws'))
  if (addr === undefined) throw new Error('node has no /ws listen address')
  return addr
}

/** ws://host:port of a /ip4/…/tcp/N/ws multiaddr. */
function wsUrl (addr: Multiaddr): string {
  const [ip, port] = addr.getComponents().filter(c => c.name === 'ip4' || c.name === 'tcp').map(c => c.value)
  return `ws://${ip ?? ''}:${port ?? ''}`
}

/** Opens a raw WebSocket that never speaks libp2p; resolves once it is open. */
async function silentSocket (url: string): Promise<WebSocket> {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true })
    socket.addEventListener('error', reject, { once: true })
  })
  return socket
}

/** Resolves when `socket` closes; rejects after WAIT_MS (a socket fedgate cut must not stay open). */
async function closed (socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`the cut socket is still open after ${WAIT_MS} ms`)) }, WAIT_MS)
    socket.addEventListener('close', () => { clearTimeout(timer); resolve() }, { once: true })
  })
}

describe('full nodes on WebSockets: the same gate as TCP', () => {
  let fed: Federation
  const outsiders: Libp2p[] = []
  const sockets: WebSocket[] = []

  before(async () => {
    fed = await createFederation({
      members: [{ id: 'full-1', roles: ['full-node'] }, { id: 'light-1', roles: ['light-client'] }],
      policy: { limits: { maxPendingHandshakesPerIp: 2, firstBytesTimeout: '500ms' } }
    })
  })
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close()
    await Promise.all(outsiders.splice(0).map(async o => o.stop()))
    await fed.stopAll()
  })
  after(async () => { await fed.close() })

  it('listens on /ws beside TCP and admits a member over it, both ways, with its /ws remote address', async () => {
    const full = await fed.startNode('full-1', { listen: ['/ip4/127.0.0.1/tcp/0', WS_LOCALHOST] })
    const light = await fed.startNode('light-1', { listen: [] })
    const calls = recordingEcho()
    await full.handle(HEADERS, calls.handler)
    const message = new TextEncoder().encode('headers 1..10')
    assert.deepEqual(await echo(await light.dialProtocol(wsAddrOf(full), HEADERS), message), message)
    assert.deepEqual(calls.calls.map(c => [c.peer.memberId, c.peer.roles]), [['light-1', ['light-client']]])
    const [seen] = full.peers()
    assert.equal(seen?.memberId, 'light-1')
    assert.match(seen?.remoteAddr ?? '', WS_ADDR)
    assert.deepEqual(light.peers().map(p => [p.memberId, p.roles]), [['full-1', ['full-node']]])
  })

  it('a stock libp2p node dialling /ws is refused no-credential, recorded with its /ws address', async () => {
    const full = await fed.startNode('full-1', { listen: [WS_LOCALHOST] })
    const stock = await createLibp2p({ transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
    outsiders.push(stock)
    const [refusal] = await Promise.all([
      waitFor(full.gate, 'refused'),
      rejection(stock.dialProtocol(wsAddrOf(full), HEADERS), 'a stock libp2p dial over /ws')
    ])
    assert.deepEqual([refusal.code, refusal.stage, refusal.peerId], ['no-credential', 'handshake', stock.peerId.toString()])
    assert.match(refusal.remoteAddr ?? '', WS_ADDR)
    assert.deepEqual(full.peers(), [])
  })

  it('counts /ws handshakes per remote IP: a third silent socket from one IP takes the place of the oldest, which closes', async () => {
    const full = await fed.startNode('full-1', { listen: [WS_LOCALHOST] })
    const url = wsUrl(wsAddrOf(full))
    const oldest = await silentSocket(url)
    sockets.push(oldest, await silentSocket(url))
    await eventually(() => full.gate.pendingHandshakes().pending === 2, 'two pending /ws handshakes')
    assert.deepEqual(full.gate.pendingHandshakes().byIp, [{ ip: '127.0.0.1', pending: 2 }])
    const cut = waitFor(full.gate, 'refused', r => r.code === 'rate-limited')
    sockets.push(await silentSocket(url))
    const refusal = await cut
    assert.equal(refusal.stage, 'accept')
    assert.match(refusal.remoteAddr ?? '', WS_ADDR)
    await closed(oldest)
    assert.deepEqual(full.gate.pendingHandshakes().byIp, [{ ip: '127.0.0.1', pending: 2 }])
  })

  it('a /ws socket that never starts its handshake is cut at the first-bytes deadline, and its socket closes', async () => {
    const full = await fed.startNode('full-1', { listen: [WS_LOCALHOST] })
    const cut = waitFor(full.gate, 'refused', r => r.code === 'handshake-timeout')
    const socket = await silentSocket(wsUrl(wsAddrOf(full)))
    sockets.push(socket)
    const refusal = await cut
    assert.equal(refusal.stage, 'accept')
    assert.match(refusal.remoteAddr ?? '', WS_ADDR)
    await closed(socket)
    assert.equal(full.gate.pendingHandshakes().pending, 0)
  })

  it('dials between full nodes work over /ws too', async () => {
    const full = await fed.startNode('full-1', { listen: [WS_LOCALHOST] })
    const other = await fed.startNode('full-2', { member: 'full-1', listen: [] })
    await other.dial(multiaddr(wsAddrOf(full).toString()))
    await eventually(() => full.peers().length === 1, 'full-1 admitting its second node over /ws')
    assert.equal(full.peers()[0]?.peerId, other.peerId)
  })
})
