import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { addrOf, captureLog, createFederation, eventually, metricValue, waitFor, type Federation } from '../node/fixture.ts'

const FLOOD_IP = '127.0.0.2'
const MAX_PENDING = 64

/** The victim's TCP port. */
function portOf (addr: { toString (): string }): number {
  const port = Number(/\/tcp\/(\d+)/.exec(addr.toString())?.[1])
  assert.ok(port > 0)
  return port
}

/**
 * An outsider holds raw TCP sockets that never send a byte, as many as the node-wide pending cap,
 * and reopens each one as it drops. fedgate must cap it per IP, cut its sockets at the first-bytes
 * deadline (logged, counted, fed to bans), and still admit a member.
 */
describe('adversarial: silent sockets that hold every pending handshake', () => {
  let fed: Federation
  const sockets = new Set<Socket>()
  let flooding = false

  before(async () => {
    fed = await createFederation({
      members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }],
      policy: { limits: { maxPendingHandshakes: MAX_PENDING, firstBytesTimeout: '500ms' } }
    })
  })
  afterEach(async () => {
    flooding = false
    for (const socket of sockets) socket.destroy()
    await fed.stopAll()
  })
  after(async () => { await fed.close() })

  /** Keeps `count` silent sockets open from FLOOD_IP, reopening each as it is cut. */
  function flood (port: number, count: number): void {
    flooding = true
    const open = (): void => {
      if (!flooding) return
      const socket = connect({ host: '127.0.0.1', port, localAddress: FLOOD_IP })
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        setTimeout(open, 5).unref()
      })
    }
    for (let i = 0; i < count; i++) open()
  }

  it('a member is admitted during the flood; the flooding IP holds only its share and its sockets are cut, logged, counted and banned', async () => {
    const { log, lines } = captureLog()
    const victim = await fed.startNode('victim', { member: 'val-1', log, bans: { failures: 8, windowMs: 60_000, baseBanMs: 60_000 } })
    flood(portOf(addrOf(victim)), MAX_PENDING)
    await eventually(() => victim.gate.pendingHandshakes().pending > 0, 'the flood to reach the victim')
    assert.ok(victim.gate.pendingHandshakes().byIp.every(({ ip, pending }) => ip !== FLOOD_IP || pending <= 8), 'the flooding IP holds at most its share')

    const member = await fed.startNode('val-2')
    const [admitted] = await Promise.all([waitFor(victim.gate, 'admitted', p => p.peerId === member.peerId), member.dial(addrOf(victim))])
    assert.equal(admitted.memberId, 'val-2')

    // Sockets that never chose an encryption protocol are cut at the first-bytes deadline, or sooner
    // when a newer socket from their address takes their place (slow-loris.test.ts times the deadline).
    const silentCut = (l: Record<string, unknown>): boolean => l.event === 'refusal' && (l.reason === 'handshake-timeout' || l.reason === 'rate-limited') && l.stage === 'accept' && String(l.remoteAddr).includes(FLOOD_IP)
    await eventually(() => lines.some(silentCut), 'a silent socket to be cut and logged')
    const counted = await metricValue(victim, 'fedgate_handshakes_total', { result: 'refused', reason: 'handshake-timeout' }) + await metricValue(victim, 'fedgate_handshakes_total', { result: 'refused', reason: 'rate-limited' })
    assert.ok(counted > 0)
    await eventually(() => lines.some(l => l.event === 'ban' && l.ip === FLOOD_IP), 'the flooding IP to be banned')
    assert.ok(!lines.some(l => l.event === 'ban' && l.ip === '127.0.0.1'), 'the member\'s address is never banned')
  })
})
