import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, loadDaemonConfig, parseConfigFile } from '../../../node/daemon/index.ts'

const FILE = '/etc/fedgate/node.json'
const BASE = { key: 'node.key', credential: 'c.json', roster: 'roster.json', listen: ['/ip4/0.0.0.0/tcp/4001'] }
const PEER = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
const EXPOSE = { name: 'cometbft-p2p', target: '127.0.0.1:26656' }
const FORWARD = { name: 'cometbft-p2p', listen: '127.0.0.1:26001', member: 'val-2' }

/** Sidecar entries that must be refused, and the JSON path the error must name. */
const BAD: ReadonlyArray<{ name: string, doc: Record<string, unknown>, path: string }> = [
  { name: 'expose not an array', doc: { expose: EXPOSE }, path: '$.expose' },
  { name: 'an expose entry that is a string', doc: { expose: ['cometbft-p2p'] }, path: '$.expose[0]' },
  { name: 'an unknown expose field', doc: { expose: [{ ...EXPOSE, port: 1 }] }, path: '$.expose[0].port' },
  { name: 'an expose entry without a name', doc: { expose: [{ target: EXPOSE.target }] }, path: '$.expose[0].name' },
  { name: 'an expose entry without a target', doc: { expose: [{ name: 'x' }] }, path: '$.expose[0].target' },
  { name: 'a service name with a slash', doc: { expose: [{ ...EXPOSE, name: 'a/b' }] }, path: '$.expose[0].name' },
  { name: 'a service name too long', doc: { expose: [{ ...EXPOSE, name: 'x'.repeat(65) }] }, path: '$.expose[0].name' },
  { name: 'a target without a port', doc: { expose: [{ ...EXPOSE, target: '127.0.0.1' }] }, path: '$.expose[0].target' },
  { name: 'a target on port 0', doc: { expose: [{ ...EXPOSE, target: '127.0.0.1:0' }] }, path: '$.expose[0].target' },
  { name: 'an unknown mode', doc: { expose: [{ ...EXPOSE, mode: 'grpc' }] }, path: '$.expose[0].mode' },
  { name: 'proxyProtocol as a string', doc: { expose: [{ ...EXPOSE, proxyProtocol: 'v2' }] }, path: '$.expose[0].proxyProtocol' },
  { name: 'proxyProtocol in http mode', doc: { expose: [{ ...EXPOSE, mode: 'http', proxyProtocol: true }] }, path: '$.expose[0].proxyProtocol' },
  { name: 'a service exposed twice', doc: { expose: [EXPOSE, { ...EXPOSE, target: '127.0.0.1:1' }] }, path: '$.expose[1].name' },
  { name: 'forward not an array', doc: { forward: FORWARD }, path: '$.forward' },
  { name: 'a forward without a listen address', doc: { forward: [{ name: 'x', member: 'val-2' }] }, path: '$.forward[0].listen' },
  { name: 'a forward naming neither member nor peer', doc: { forward: [{ name: 'x', listen: '127.0.0.1:1' }] }, path: '$.forward[0]' },
  { name: 'a forward naming both member and peer', doc: { forward: [{ ...FORWARD, peer: PEER }] }, path: '$.forward[0]' },
  { name: 'a member id with spaces', doc: { forward: [{ ...FORWARD, member: 'val 2' }] }, path: '$.forward[0].member' },
  { name: 'a peer that is a member id', doc: { forward: [{ name: 'x', listen: '127.0.0.1:1', peer: 'val-2' }] }, path: '$.forward[0].peer' },
  { name: 'a peer multiaddr over UDP', doc: { forward: [{ name: 'x', listen: '127.0.0.1:1', peer: '/ip4/10.0.0.2/udp/4001' }] }, path: '$.forward[0].peer' },
  { name: 'two forwards on one listen address', doc: { forward: [FORWARD, { ...FORWARD, member: 'val-3' }] }, path: '$.forward[1].listen' },
  { name: 'an unknown forward field', doc: { forward: [{ ...FORWARD, target: '127.0.0.1:1' }] }, path: '$.forward[0].target' }
]

describe('daemon config: expose and forward', () => {
  it('reads expose and forward entries with their defaults', () => {
    const settings = parseConfigFile(JSON.stringify({
      ...BASE,
      expose: [EXPOSE, { name: 'rpc', target: '[::1]:8545', mode: 'http' }, { name: 'p2p', target: 'localhost:30303', proxyProtocol: true }],
      forward: [FORWARD, { name: 'rpc', listen: '127.0.0.1:0', peer: PEER }, { name: 'rpc', listen: '127.0.0.1:0', peer: `/dns4/val-3.example/tcp/4001/p2p/${PEER}` }]
    }), FILE)
    assert.deepEqual(settings.expose, [
      { name: 'cometbft-p2p', target: { host: '127.0.0.1', port: 26656 }, mode: 'tcp', proxyProtocol: false },
      { name: 'rpc', target: { host: '::1', port: 8545 }, mode: 'http', proxyProtocol: false },
      { name: 'p2p', target: { host: 'localhost', port: 30303 }, mode: 'tcp', proxyProtocol: true }
    ])
    assert.deepEqual(settings.forward, [
      { name: 'cometbft-p2p', listen: { host: '127.0.0.1', port: 26001 }, to: { member: 'val-2' } },
      { name: 'rpc', listen: { host: '127.0.0.1', port: 0 }, to: { peer: PEER } },
      { name: 'rpc', listen: { host: '127.0.0.1', port: 0 }, to: { addr: `/dns4/val-3.example/tcp/4001/p2p/${PEER}` } }
    ])
  })

  for (const { name, doc, path } of BAD) {
    it(`refuses ${name}, naming ${path} and the fix`, () => {
      assert.throws(() => parseConfigFile(JSON.stringify({ ...BASE, ...doc }), FILE), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.where, `${FILE}: ${path}`)
        assert.equal(err.usage, false)
        assert.ok(err.fix.length > 10)
        return true
      })
    })
  }

  it('--expose NAME=HOST:PORT and --forward NAME=HOST:PORT@MEMBER|PEERID|MULTIADDR replace the file lists', async () => {
    const flags = { key: 'k', credential: 'c', roster: 'r', dataDir: 'd', listen: ['/ip4/127.0.0.1/tcp/0'] }
    const config = await loadDaemonConfig({
      ...flags,
      expose: ['redis=127.0.0.1:6379'],
      forward: ['redis=127.0.0.1:16379@val-2', `rpc=127.0.0.1:18545@${PEER}`, `p2p=127.0.0.1:0@/ip4/10.0.0.2/tcp/4001/p2p/${PEER}`]
    }, '/srv')
    assert.deepEqual(config.expose, [{ name: 'redis', target: { host: '127.0.0.1', port: 6379 }, mode: 'tcp', proxyProtocol: false }])
    assert.deepEqual(config.forward.map(f => f.to), [{ member: 'val-2' }, { peer: PEER }, { addr: `/ip4/10.0.0.2/tcp/4001/p2p/${PEER}` }])
    assert.deepEqual((await loadDaemonConfig(flags, '/srv')).forward, [], 'no sidecar without entries')
    for (const [flag, value] of [['expose', 'redis'], ['expose', 'a b=127.0.0.1:1'], ['forward', 'redis=127.0.0.1:1'], ['forward', 'redis=127.0.0.1@val-2'], ['expose', 'a=127.0.0.1:1,a=127.0.0.1:2']] as const) {
      const values = value.includes(',') ? value.split(',') : [value]
      await assert.rejects(loadDaemonConfig({ ...flags, [flag]: values }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${flag} ${value}`)
        assert.equal(err.usage, true, 'a bad flag is a usage error')
        assert.ok(err.where.startsWith(`--${flag} `))
        return true
      })
    }
  })
})
