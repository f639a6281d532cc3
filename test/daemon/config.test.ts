import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  adminAddress, ConfigError, DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT, isLoopback, loadDaemonConfig, type DaemonFlags
} from '../../node/daemon/index.ts'

const VALID = {
  key: 'node.key',
  credential: 'node.credential.json',
  roster: 'roster.json',
  listen: ['/ip4/0.0.0.0/tcp/4001']
}

/** Config files that must be refused, and the JSON path the error must name. */
const BAD_FILES: ReadonlyArray<{ name: string, doc: unknown, path: string }> = [
  { name: 'an unknown field', doc: { ...VALID, lisen: [] }, path: '$.lisen' },
  { name: 'a missing key', doc: { ...VALID, key: undefined }, path: '$.key' },
  { name: 'missing listen addresses', doc: { ...VALID, listen: undefined }, path: '$.listen' },
  { name: 'listen not an array', doc: { ...VALID, listen: '/ip4/0.0.0.0/tcp/4001' }, path: '$.listen' },
  { name: 'a listen entry of the wrong type', doc: { ...VALID, listen: ['/ip4/0.0.0.0/tcp/4001', 4001] }, path: '$.listen[1]' },
  { name: 'an invalid multiaddr', doc: { ...VALID, listen: ['ip4/0.0.0.0/tcp/4001'] }, path: '$.listen[0]' },
  { name: 'a listen address without TCP', doc: { ...VALID, listen: ['/ip4/0.0.0.0/udp/4001'] }, path: '$.listen[0]' },
  { name: 'a DNS listen address', doc: { ...VALID, listen: ['/dns4/node.example/tcp/4001'] }, path: '$.listen[0]' },
  { name: 'a TLS WebSocket listen address', doc: { ...VALID, listen: ['/ip4/0.0.0.0/tcp/443/tls/ws'] }, path: '$.listen[0]' },
  { name: 'a wss listen address', doc: { ...VALID, listen: ['/ip4/0.0.0.0/tcp/443/wss'] }, path: '$.listen[0]' },
  { name: 'a listen address with a PeerId', doc: { ...VALID, listen: ['/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'] }, path: '$.listen[0]' },
  { name: 'a duplicate listen address', doc: { ...VALID, listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4001'] }, path: '$.listen[1]' },
  { name: 'a bad dial address', doc: { ...VALID, dial: ['/ip4/10.0.0.1/tcp/4001', '/p2p-circuit'] }, path: '$.dial[1]' },
  { name: 'an admin port number only', doc: { ...VALID, admin: 9474 }, path: '$.admin' },
  { name: 'admin true', doc: { ...VALID, admin: true }, path: '$.admin' },
  { name: 'an admin port out of range', doc: { ...VALID, admin: '127.0.0.1:70000' }, path: '$.admin' },
  { name: 'an admin address without a port', doc: { ...VALID, admin: '127.0.0.1' }, path: '$.admin' },
  { name: 'an empty key path', doc: { ...VALID, key: '' }, path: '$.key' },
  { name: 'a numeric data dir', doc: { ...VALID, dataDir: 7 }, path: '$.dataDir' },
  { name: 'an unknown log level', doc: { ...VALID, logLevel: 'verbose' }, path: '$.logLevel' },
  { name: 'rosterSync as a string', doc: { ...VALID, rosterSync: 'no' }, path: '$.rosterSync' },
  { name: 'an array', doc: [VALID], path: '$' },
  { name: 'null', doc: null, path: '$' }
]

describe('daemon config', () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const write = async (name: string, doc: unknown): Promise<string> => {
    await writeFile(file(name), JSON.stringify(doc) ?? 'undefined')
    return file(name)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-config-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('resolves paths against the config file folder and fills in the defaults', async () => {
    const config = await loadDaemonConfig({ config: await write('node.json', VALID) }, '/elsewhere')
    assert.equal(config.file, file('node.json'))
    assert.equal(config.key, file('node.key'))
    assert.equal(config.credential, file('node.credential.json'))
    assert.equal(config.roster, file('roster.json'))
    assert.equal(config.dataDir, file('data'))
    assert.deepEqual(config.listen, VALID.listen)
    assert.deepEqual(config.admin, { host: DEFAULT_ADMIN_HOST, port: DEFAULT_ADMIN_PORT })
    assert.ok(isLoopback(DEFAULT_ADMIN_HOST))
    assert.deepEqual(config.dial, [])
    assert.equal(config.auditLog, null)
    assert.equal(config.logLevel, 'info')
    assert.equal(config.rosterSync, true)
  })

  it('reads every field; "admin": false turns the endpoint off; absolute paths stay', async () => {
    const config = await loadDaemonConfig({
      config: await write('full.json', {
        ...VALID,
        key: '/keys/node.key',
        dataDir: 'state',
        admin: false,
        dial: ['/dns4/val-1.example/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo', '/ip6/::1/tcp/4001'],
        auditLog: 'logs/audit.log',
        logLevel: 'warn',
        rosterSync: false
      })
    })
    assert.equal(config.key, '/keys/node.key')
    assert.equal(config.dataDir, file('state'))
    assert.equal(config.admin, null)
    assert.equal(config.dial.length, 2)
    assert.equal(config.auditLog, file('logs/audit.log'))
    assert.equal(config.logLevel, 'warn')
    assert.equal(config.rosterSync, false)
    assert.equal((await loadDaemonConfig({ config: file('full.json'), rosterSync: true })).rosterSync, true, 'the flag wins')
  })

  it('takes WebSocket listen and dial addresses beside TCP ones', async () => {
    const listen = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws', '/ip6/::/tcp/4002/ws']
    const dial = ['/dns4/full-1.example/tcp/4002/ws/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo']
    const config = await loadDaemonConfig({ config: await write('ws.json', { ...VALID, listen, dial }) })
    assert.deepEqual(config.listen, listen)
    assert.deepEqual(config.dial, dial)
    assert.deepEqual((await loadDaemonConfig({ config: file('ws.json'), listen: ['/ip4/127.0.0.1/tcp/0/ws'] })).listen, ['/ip4/127.0.0.1/tcp/0/ws'])
  })

  it('flags override the config file; flag paths resolve against the working directory', async () => {
    const config = await loadDaemonConfig({
      config: await write('node.json', VALID),
      key: 'other.key',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      admin: '[::1]:0',
      dial: ['/ip4/127.0.0.1/tcp/4002']
    }, '/work')
    assert.equal(config.key, '/work/other.key')
    assert.equal(config.credential, file('node.credential.json'))
    assert.deepEqual(config.listen, ['/ip4/127.0.0.1/tcp/0'])
    assert.deepEqual(config.admin, { host: '::1', port: 0 })
    assert.deepEqual(config.dial, ['/ip4/127.0.0.1/tcp/4002'])
    assert.equal((await loadDaemonConfig({ config: file('node.json'), admin: false })).admin, null)
  })

  it('flags alone work when complete, and name the first missing flag otherwise', async () => {
    const flags: DaemonFlags = { key: 'k', credential: 'c', roster: 'r', dataDir: 'd', listen: ['/ip4/127.0.0.1/tcp/0'] }
    const config = await loadDaemonConfig(flags, '/srv')
    assert.equal(config.file, undefined)
    assert.equal(config.dataDir, '/srv/d')
    for (const flag of ['key', 'credential', 'roster', 'dataDir', 'listen'] as const) {
      await assert.rejects(loadDaemonConfig({ ...flags, [flag]: undefined }), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.name, 'ConfigError')
        assert.equal(err.usage, true)
        assert.equal(err.where, flag === 'dataDir' ? '--data-dir' : `--${flag}`)
        return true
      })
    }
  })

  it('a field missing from the file may come from a flag', async () => {
    const config = await loadDaemonConfig({ config: await write('nolisten.json', { ...VALID, listen: undefined }), listen: ['/ip4/127.0.0.1/tcp/0'] })
    assert.deepEqual(config.listen, ['/ip4/127.0.0.1/tcp/0'])
  })

  for (const bad of BAD_FILES) {
    it(`refuses a config file with ${bad.name}, naming ${bad.path}`, async () => {
      const path = await write('bad.json', bad.doc)
      await assert.rejects(loadDaemonConfig({ config: path }), (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.equal(err.where, `${path}: ${bad.path}`)
        assert.equal(err.usage, false)
        assert.ok(err.fix.length > 0)
        return true
      })
    })
  }

  it('refuses a missing config file and a file that is not JSON, naming the file', async () => {
    await writeFile(file('broken.json'), '{"key": ')
    for (const path of [file('missing.json'), file('broken.json'), dir]) {
      await assert.rejects(loadDaemonConfig({ config: path }), (err: unknown) => err instanceof ConfigError && err.where === path)
    }
  })

  it('refuses bad flag values as usage errors naming the flag', async () => {
    const flags: DaemonFlags = { key: 'k', credential: 'c', roster: 'r', dataDir: 'd', listen: ['/ip4/127.0.0.1/tcp/0'] }
    for (const [bad, where] of [
      [{ listen: ['/ip4/127.0.0.1/tcp/0', 'tcp/4001'] }, '--listen tcp/4001'],
      [{ dial: ['nowhere'] }, '--dial nowhere'],
      [{ admin: 'localhost' }, '--admin localhost'],
      [{ logLevel: 'loud' }, '--log-level loud']
    ] as const) {
      await assert.rejects(loadDaemonConfig({ ...flags, ...bad }), (err: unknown) => err instanceof ConfigError && err.usage && err.where === where)
    }
  })

  it('parses HOST:PORT admin addresses and tells loopback from the rest', () => {
    assert.deepEqual(adminAddress('127.0.0.1:9474', 'x'), { host: '127.0.0.1', port: 9474 })
    assert.deepEqual(adminAddress('localhost:0', 'x'), { host: 'localhost', port: 0 })
    assert.deepEqual(adminAddress('[::1]:80', 'x'), { host: '::1', port: 80 })
    assert.deepEqual(adminAddress('0.0.0.0:9474', 'x'), { host: '0.0.0.0', port: 9474 })
    for (const bad of ['', ':9474', '[::1]', '[nothost]:1', '::1:9474', '1.2.3.4:-1', 'host:65536', 'a b:1']) {
      assert.throws(() => adminAddress(bad, 'x'), { name: 'ConfigError' })
    }
    assert.deepEqual(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '0.0.0.0', '10.0.0.1', '::', 'admin.example'].map(isLoopback),
      [true, true, true, true, false, false, false, false])
  })
})
