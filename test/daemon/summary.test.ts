import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { credentialExpiresSoon, humanDuration, startupSummary, timeLeft, type StartupInfo } from '../../node/daemon/index.ts'

const NOW = Date.parse('2026-11-29T00:00:00Z')
const HOUR_MS = 3_600_000

const INFO: StartupInfo = {
  peerId: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
  federation: 'fed',
  rosterEpoch: 7,
  memberId: 'val-a',
  roles: ['validator', 'relayer'],
  credentialFingerprint: 'ab'.repeat(32),
  credentialNotBeforeMs: NOW - 5 * 24 * HOUR_MS,
  credentialNotAfterMs: NOW + 48 * HOUR_MS,
  credentialFile: '/etc/fedgate/node.credential.json',
  listen: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'],
  dial: [],
  admin: { host: '127.0.0.1', port: 9474 },
  auditLog: null,
  dataDir: '/var/lib/fedgate',
  rosterFileRefused: null,
  trustRoot: { pinned: false, federation: 'fed', fingerprint: 'cd'.repeat(32), admins: 'ef'.repeat(32) },
  expose: [],
  forward: [],
  exposeNotAllowed: [],
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

  it('says whether the trust root is pinned, or trusted on first use with both fingerprints to pin', () => {
    const firstUse = startupSummary(INFO)
    assert.match(firstUse, new RegExp(`trust root +trusted on first use: fed epoch fingerprint ${'cd'.repeat(32)}, admin set ${'ef'.repeat(32)}`))
    const pinned = startupSummary({ ...INFO, trustRoot: { pinned: true, federation: 'fed', fingerprint: 'ab'.repeat(32) } })
    assert.match(pinned, new RegExp(`trust root +pinned: fed ${'ab'.repeat(32)}`))
  })

  it('warns when the credential expires within 24 hours, or has expired', () => {
    const soon = startupSummary({ ...INFO, credentialNotAfterMs: NOW + 24 * HOUR_MS - 60_000 })
    assert.equal(warnings(soon).length, 1)
    assert.ok(warnings(soon)[0]?.includes(INFO.credentialFile))
    assert.equal(warnings(startupSummary({ ...INFO, credentialNotAfterMs: NOW + 24 * HOUR_MS })).length, 0)
    const expired = startupSummary({ ...INFO, credentialNotAfterMs: NOW - 5 * 60_000 })
    assert.match(expired, /\(expired 5m 0s ago\)/)
    assert.equal(warnings(expired).length, 1)
  })

  /** [lifetime, time left, warns]: under 24 h left and under a quarter of the lifetime left, or under 1 h left. */
  const EXPIRY_CASES: ReadonlyArray<readonly [number, number, boolean]> = [
    [7 * 24 * HOUR_MS, 23 * HOUR_MS, true],
    [7 * 24 * HOUR_MS, 25 * HOUR_MS, false],
    [48 * HOUR_MS, 11 * HOUR_MS, true],
    [48 * HOUR_MS, 13 * HOUR_MS, false],
    [24 * HOUR_MS, 24 * HOUR_MS, false],
    [24 * HOUR_MS, 7 * HOUR_MS, false],
    [24 * HOUR_MS, 5 * HOUR_MS, true],
    [2 * HOUR_MS, 2 * HOUR_MS, false],
    [2 * HOUR_MS, 61 * 60_000, false],
    [2 * HOUR_MS, 59 * 60_000, true],
    [30 * 60_000, 30 * 60_000, true],
    [24 * HOUR_MS, -60_000, true]
  ]

  for (const [lifetime, left, warns] of EXPIRY_CASES) {
    it(`a ${humanDuration(lifetime)} credential ${left >= 0 ? `with ${humanDuration(left)} left` : 'that expired'} ${warns ? 'warns' : 'does not warn'}`, () => {
      const notAfter = NOW + left
      assert.equal(credentialExpiresSoon(notAfter - lifetime, notAfter, NOW), warns)
      const text = startupSummary({ ...INFO, credentialNotBeforeMs: notAfter - lifetime, credentialNotAfterMs: notAfter })
      assert.equal(warnings(text).some(w => w.startsWith('warning: the credential ')), warns)
    })
  }

  it('warns when the roster file was refused at start and an epoch accepted earlier runs', () => {
    const text = startupSummary({ ...INFO, rosterFileRefused: { file: '/etc/fedgate/roster.json', code: 'roster-stale' } })
    assert.equal(warnings(text).length, 1)
    assert.match(warnings(text)[0] ?? '', /^warning: roster file \/etc\/fedgate\/roster\.json refused: roster-stale; running accepted epoch 7\b/)
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

  it('lists the sidecar services and warns about a forward reachable from other hosts and a service no role may use', () => {
    const text = startupSummary({
      ...INFO,
      expose: [{ name: 'rpc', protocol: '/fedgate/tcp/rpc/1.0.0', target: '127.0.0.1:8545', mode: 'http', proxyProtocol: false }],
      forward: [{ name: 'p2p', protocol: '/fedgate/tcp/p2p/1.0.0', listen: '127.0.0.1:26001', to: 'member val-b' }, { name: 'p2p', protocol: '/fedgate/tcp/p2p/1.0.0', listen: '0.0.0.0:26002', to: 'member val-c' }],
      exposeNotAllowed: ['/fedgate/tcp/rpc/1.0.0']
    })
    assert.match(text, /^ {2}expose +rpc → 127\.0\.0\.1:8545 \(\/fedgate\/tcp\/rpc\/1\.0\.0, http\)$/m)
    assert.match(text, /^ {2}forward +127\.0\.0\.1:26001 → p2p of member val-b$/m)
    assert.deepEqual(warnings(text).map(w => w.split(',')[0]), [
      'warning: the roster allows no role on /fedgate/tcp/rpc/1.0.0',
      'warning: forward p2p listens on 0.0.0.0:26002'
    ])
  })
})
