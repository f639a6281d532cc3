import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { EXPIRY_WARNING_MS, humanDuration, startupSummary, timeLeft, type StartupInfo } from '../../node/daemon/index.ts'

const NOW = Date.parse('2026-11-29T00:00:00Z')
const HOUR_MS = 3_600_000

const INFO: StartupInfo = {
  peerId: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
  federation: 'fed',
  rosterEpoch: 7,
  memberId: 'val-a',
  roles: ['validator', 'relayer'],
  credentialFingerprint: 'ab'.repeat(32),
  credentialNotAfterMs: NOW + 48 * HOUR_MS,
  credentialFile: '/etc/fedgate/node.credential.json',
  listen: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'],
  dial: [],
  admin: { host: '127.0.0.1', port: 9474 },
  auditLog: null,
  dataDir: '/var/lib/fedgate',
  now: NOW
}

const warnings = (text: string): string[] => text.split('\n').filter(l => l.startsWith('warning: '))

describe('startup summary', () => {
  it('names the PeerId, federation and epoch, roles, credential expiry, listen and admin addresses', () => {
    const text = startupSummary(INFO)
    assert.ok(text.startsWith('fedgate node started\n'))
    for (const expected of [INFO.peerId, 'fed, roster epoch 7', 'val-a, roles validator,relayer', '2026-12-01T00:00:00.000Z (in 2d 0h)', INFO.listen[0] ?? '', 'http://127.0.0.1:9474', 'stdout']) {
      assert.ok(text.includes(expected), `missing ${expected} in:\n${text}`)
    }
    assert.deepEqual(warnings(text), [])
  })

  it('warns when the credential expires within 24 hours, or has expired', () => {
    const soon = startupSummary({ ...INFO, credentialNotAfterMs: NOW + EXPIRY_WARNING_MS - 60_000 })
    assert.equal(warnings(soon).length, 1)
    assert.ok(warnings(soon)[0]?.includes(INFO.credentialFile))
    assert.equal(warnings(startupSummary({ ...INFO, credentialNotAfterMs: NOW + EXPIRY_WARNING_MS })).length, 0)
    assert.match(startupSummary({ ...INFO, credentialNotAfterMs: NOW - 5 * 60_000 }), /\(expired 5m 0s ago\)/)
  })

  it('warns when the admin endpoint is reachable from other hosts, and says when it is off', () => {
    assert.equal(warnings(startupSummary({ ...INFO, admin: { host: '0.0.0.0', port: 9474 } })).length, 1)
    assert.equal(warnings(startupSummary({ ...INFO, admin: { host: '::1', port: 9474 } })).length, 0)
    assert.match(startupSummary({ ...INFO, admin: null }), /admin +\(disabled\)/)
  })

  it('lists every reserved peer', () => {
    const dial = ['/ip4/10.0.0.2/tcp/4001', '/dns4/val-c.example/tcp/4001']
    const text = startupSummary({ ...INFO, dial })
    for (const addr of dial) assert.ok(text.includes(addr))
  })

  it('renders durations coarsely, two units at most', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'], [999, '0s'], [42_000, '42s'], [250_000, '4m 10s'], [HOUR_MS, '1h 0m'],
      [23 * HOUR_MS + 59 * 60_000 + 59_000, '23h 59m'], [51 * HOUR_MS, '2d 3h'], [-5_000, '0s']
    ]
    for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`)
    assert.equal(timeLeft(90_000), 'in 1m 30s')
    assert.equal(timeLeft(-90_000), 'expired 1m 30s ago')
  })
})
