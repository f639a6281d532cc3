import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StreamCloseEvent } from '@libp2p/interface'
import { addMember, allowProtocol, removeMember, revoke, type Roster } from '../../../membership/index.ts'
import { createFederationNode, type FederationNode } from '../../../node/index.ts'
import { eventually, Federation, FedgateProcess, HOUR_MS } from '../federation.ts'
import { readBytes, readToEnd, SidecarNode, tcpConnect, tcpServer, unusedPort } from './cluster.ts'

const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  echo: ['validator'],
  down: ['validator'],
  absent: ['validator'],
  feed: ['validator'],
  relay: ['validator', 'relayer']
}

/**
 * Three daemons and what a sidecar must refuse or cut: val-a exposes echo, feed and relay (echo
 * servers) and down (nothing listens there); val-b (validator) dials val-a; rel-c (relayer) reaches
 * val-a at the address the roster lists. val-d is a member whose node never runs; rel-x is a
 * relayer that talks to val-a from an embedded js-libp2p node.
 */
describe('sidecar refusals, policy changes and revocation', { timeout: 120_000 }, () => {
  let dir: string
  let fed: Federation
  let a: SidecarNode
  let b: SidecarNode
  let c: SidecarNode
  let x: FederationNode | undefined
  const servers: Server[] = []
  const targetSockets = new Map<string, Socket[]>()

  const echoServer = async (name: string): Promise<number> => {
    targetSockets.set(name, [])
    const { server, port } = await tcpServer(socket => {
      targetSockets.get(name)?.push(socket)
      socket.pipe(socket)
    })
    servers.push(server)
    return port
  }
  const echoThrough = async (port: number): Promise<Socket> => {
    const socket = await tcpConnect(port)
    const answer = readBytes(socket, 4)
    socket.write('ping')
    assert.equal((await answer).toString(), 'ping')
    return socket
  }
  /** A local connection to the forward that fedgate refuses: it is reset at once, and logged. */
  const refused = async (node: SidecarNode, port: number, reason: string): Promise<void> => {
    // The reset may come before the connect completes: read from the socket as it connects.
    const { data, end } = await readToEnd(connect({ port, host: '127.0.0.1' }))
    assert.equal(data.byteLength, 0)
    assert.equal(end, 'ECONNRESET', 'the client sees a reset, not a clean end')
    await node.auditEvent(e => e.event === 'tunnel-refused' && e.reason === reason)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-sidecar-refusals-'))
    fed = await Federation.create(dir, [
      { id: 'val-a', roles: ['validator'], ttlMs: 48 * HOUR_MS },
      { id: 'val-b', roles: ['validator'], ttlMs: 48 * HOUR_MS },
      { id: 'rel-c', roles: ['relayer'], ttlMs: 48 * HOUR_MS },
      { id: 'val-d', roles: ['validator'], ttlMs: 48 * HOUR_MS },
      { id: 'rel-x', roles: ['relayer'], ttlMs: 48 * HOUR_MS }
    ])
    await fed.writeRoster(fed.nextEpoch(r => Object.entries(ALLOWED).reduce<Roster>((roster, [name, roles]) => allowProtocol(roster, `/fedgate/tcp/${name}/1.0.0`, roles), r)))
    a = await SidecarNode.start(fed, 'val-a', {
      expose: [
        { name: 'echo', target: `127.0.0.1:${await echoServer('echo')}` },
        { name: 'feed', target: `127.0.0.1:${await echoServer('feed')}` },
        { name: 'relay', target: `127.0.0.1:${await echoServer('relay')}` },
        { name: 'down', target: `127.0.0.1:${await unusedPort()}` }
      ]
    })
    // val-a's address goes into the roster: rel-c finds it there, without a dial of its own.
    const key = fed.member('val-a').memberKey.publicKey
    await fed.writeRoster(fed.nextEpoch(r => addMember(removeMember(r, 'val-a'), { id: 'val-a', roles: ['validator'], key, addrs: [...a.listen] })))
    await eventually(async () => (await a.status()).rosterEpoch === fed.roster.epoch ? true : undefined)
    const toA = (name: string): Record<string, string> => ({ name, listen: '127.0.0.1:0', member: 'val-a' })
    b = await SidecarNode.start(fed, 'val-b', {
      dial: a.listen,
      forward: [toA('echo'), toA('down'), toA('absent'), toA('feed'), { name: 'echo', listen: '127.0.0.1:0', member: 'nobody' }, { name: 'echo', listen: '127.0.0.1:0', member: 'val-d' }]
    })
    c = await SidecarNode.start(fed, 'rel-c', { forward: [toA('relay'), toA('echo')] })
    await b.peers(1)
  })

  after(async () => {
    await x?.stop()
    await Promise.all([a, b, c].map(async n => n?.process.stop('SIGKILL')))
    for (const server of servers) server.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a forward that cannot be carried resets its local connection and logs why', async () => {
    await refused(b, await b.forwardPort('down'), 'target-unreachable')
    await a.auditEvent(e => e.event === 'tunnel-refused' && e.reason === 'target-unreachable' && e.memberId === 'val-b')
    await refused(b, await b.forwardPort('absent'), 'service-not-exposed')
    await refused(b, await b.forwardPort('echo', 1), 'unknown-member')
    await refused(b, await b.forwardPort('echo', 2), 'no-reachable-node')
    const metrics = await b.metrics()
    for (const reason of ['target-unreachable', 'service-not-exposed', 'unknown-member', 'no-reachable-node']) {
      assert.match(metrics, new RegExp(`^fedgate_tunnel_refusals_total\\{service="[a-z]+",side="forward",reason="${reason}"\\} 1$`, 'm'))
    }
  })

  it('a forward reaches the member at the address the roster lists', async () => {
    const socket = await echoThrough(await c.forwardPort('relay'))
    socket.destroy()
    assert.ok((await c.status()).peers.some(p => p.memberId === 'val-a' && p.direction === 'outbound'))
  })

  it('a role the roster does not allow on the service is refused by the forwarding node and by the exposing node', async () => {
    await refused(c, await c.forwardPort('echo'), 'protocol-not-allowed')
    // A relayer that skips its own check (an embedded js-libp2p node) meets val-a's stream guard.
    const m = fed.member('rel-x')
    x = await createFederationNode({ key: m.keyFile, credential: m.credentialFile, roster: { dataDir: join(dir, 'data-rel-x'), rosterFile: fed.rosterFile } })
    const before = targetSockets.get('echo')?.length ?? 0
    // The reset can come while the protocol is negotiated (the dial fails) or just after (the stream resets).
    const outcome = await x.dialProtocol(a.listen[0] ?? '', '/fedgate/tcp/echo/1.0.0').then(async stream => {
      if (stream.status !== 'open') return stream.status
      return await new Promise<string>(resolve => { stream.addEventListener('close', (evt: StreamCloseEvent) => { resolve(evt.error?.name ?? 'closed') }, { once: true }) })
    }, (err: Error) => err.name)
    assert.ok(['reset', 'StreamResetError'].includes(outcome), outcome)
    await a.auditEvent(e => e.event === 'stream-reset' && e.reason === 'protocol-not-allowed' && e.memberId === 'rel-x')
    assert.equal(targetSockets.get('echo')?.length, before, 'the target never saw a connection')
  })

  it('a roster epoch that withdraws the protocol closes its open tunnels at both ends', async () => {
    const sockets = await Promise.all([1, 2].map(async () => await echoThrough(await b.forwardPort('feed'))))
    const ends = sockets.map(readToEnd)
    await fed.writeRoster(fed.nextEpoch(r => allowProtocol(r, '/fedgate/tcp/feed/1.0.0', ['relayer'])))
    for (const { end } of await Promise.all(ends)) assert.equal(end, 'ECONNRESET')
    await eventually(async () => targetSockets.get('feed')?.every(s => s.closed) === true ? true : undefined)
    await eventually(async () => (await a.audit()).filter(e => e.event === 'tunnel-close' && e.serviceName === 'feed' && e.reason === 'protocol-not-allowed').length === 2 ? true : undefined)
    // val-b names the reason when its own copy of the roster already shows it, else the reset.
    const forwarded = await b.auditEvent(e => e.event === 'tunnel-close' && e.serviceName === 'feed')
    assert.ok(forwarded.reason === 'protocol-not-allowed' || forwarded.reason === 'tunnel-reset', forwarded.reason)
    await refused(b, await b.forwardPort('feed'), 'protocol-not-allowed')
  })

  it('revoking a member closes its tunnels at both ends, and its new local connections are refused', async t => {
    const sockets = await Promise.all([1, 2, 3].map(async () => await echoThrough(await c.forwardPort('relay'))))
    const targets = (targetSockets.get('relay') ?? []).filter(s => !s.closed)
    assert.equal(targets.length, 3)
    const ends = sockets.map(readToEnd)
    const written = Date.now()
    await fed.writeRoster(fed.nextEpoch(r => revoke(r, { member: 'rel-c' })))
    for (const { end } of await Promise.all(ends)) assert.notEqual(end, 'end', 'a cut tunnel is not a clean end')
    await eventually(async () => targets.every(s => s.closed) ? true : undefined)
    t.diagnostic(`roster file write to the last target connection closed: ${Date.now() - written} ms`)
    await eventually(async () => (await a.audit()).filter(e => e.event === 'tunnel-close' && e.serviceName === 'relay' && e.memberId === 'rel-c' && e.reason === 'revoked').length === 3 ? true : undefined)
    await c.auditEvent(e => e.event === 'tunnel-close' && e.serviceName === 'relay' && e.reason === 'revoked')
    await refused(c, await c.forwardPort('relay'), 'revoked')
  })

  it('a forward whose listen address is taken stops the start with one line naming it', async () => {
    const { server, port } = await tcpServer(() => {})
    servers.push(server)
    const run = new FedgateProcess(['node', 'start', '--config', await fed.writeConfig('val-d', fed.configOf('val-d', { forward: [{ name: 'echo', listen: `127.0.0.1:${port}`, member: 'val-a' }] }))])
    assert.equal(await run.exited, 1)
    assert.equal(run.stderr, `error: forward echo 127.0.0.1:${port}: cannot listen (address already in use); fix: choose another port in the forward entry's "listen" (or --forward), or stop the process that holds it\n`)
  })
})
