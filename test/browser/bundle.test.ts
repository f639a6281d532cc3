import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { addMember, revoke, type FederationNode } from '../../node/index.ts'
import { buildBrowser, NODE_ONLY_INPUTS, type BrowserBuild } from '../../scripts/browser/build.ts'
import { createFederation, HEADERS, recordingEcho, waitFor, type Federation } from '../node/fixture.ts'

type BrowserEntry = typeof import('../../node/browser/index.ts')

/** Import statements or calls of a module whose specifier starts with `node:` (or is a bare Node builtin). */
const NODE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s*)["'](?:node:[\w/]+|fs|path|crypto|os|net|http|https|zlib|child_process|worker_threads|stream)["']/

function wsAddrOf (node: FederationNode): string {
  const addr = node.getMultiaddrs().map(String).find(a => a.includes('/ws/'))
  if (addr === undefined) throw new Error('node has no /ws address')
  return addr
}

describe('the browser bundle (fedgate/browser)', () => {
  let dir: string
  let built: BrowserBuild
  let library: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-bundle-'))
    built = await buildBrowser(dir)
    library = await readFile(built.library.path, 'utf8')
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('holds no node: import, and no module of the Node entry', async () => {
    assert.equal(NODE_IMPORT.exec(library)?.[0], undefined)
    assert.deepEqual(built.library.imports, [], 'everything is bundled: the library imports nothing at run time')
    assert.deepEqual(built.page.imports, ['./fedgate.js'], 'the page imports the library beside it and nothing else')
    assert.equal(NODE_IMPORT.exec(await readFile(built.page.path, 'utf8'))?.[0], undefined)
    assert.deepEqual(built.inputs.filter(input => NODE_ONLY_INPUTS.some(p => p.test(input))), [])
    for (const part of ['node/gate/gate.ts', 'node/net/encrypter.ts', 'node/net/gater.ts', 'node/gate/stream-guard.ts', 'membership/credential-verify.ts', '@chainsafe/libp2p-noise']) {
      assert.ok(built.inputs.some(input => input.includes(part)), `the bundle holds ${part}`)
    }
  })

  it('the check that guards the build names the Node-only modules (control)', () => {
    for (const input of ['node_modules/prom-client/index.js', 'node_modules/pino/pino.js', 'node/files/roster-store.ts', 'node/net/noise-crypto.ts', 'node/metrics.ts', 'node/log.ts', 'node/gate/node-gate.ts', 'node/sync/roster-sync.ts']) {
      assert.ok(NODE_ONLY_INPUTS.some(p => p.test(input)), `${input} counts as Node-only`)
    }
    assert.ok(!NODE_ONLY_INPUTS.some(p => p.test('node/gate/gate.ts')))
    assert.match('import{createHash}from"node:crypto"', NODE_IMPORT)
  })

  describe('run as a module (Node 24 has WebSocket and WebCrypto): a light client from the bundle against real full nodes on /ws', () => {
    let fed: Federation
    let entry: BrowserEntry

    before(async () => {
      // The browser build of mortice (the peer store's lock) keeps a BroadcastChannel open for the
      // page's life; in Node an open channel keeps the process alive, so this process's are unref'd.
      globalThis.BroadcastChannel = class extends BroadcastChannel {
        constructor (name: string) {
          super(name)
          this.unref()
        }
      }
      entry = await import(pathToFileURL(built.library.path).href) as BrowserEntry
      fed = await createFederation({ members: [{ id: 'full-1', roles: ['full-node'] }, { id: 'light-1', roles: ['light-client'] }] })
    })
    after(async () => { await fed.close() })

    it('admits the member full node, refuses one its roster does not list, and follows new epochs in memory', async () => {
      const full = await fed.startNode('full-1', { listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
      const calls = recordingEcho()
      await full.handle(HEADERS, calls.handler)
      const genesis = fed.roster
      const epoch2 = await fed.publishEpoch(r => addMember(r, fed.memberEntry({ id: 'full-2', roles: ['full-node'] })))
      const other = await fed.startNode('full-2', { listen: ['/ip4/127.0.0.1/tcp/0/ws'] })

      const nodeKey = await entry.generateNodeKey()
      const credential = entry.Credential.fromJSON((await fed.issue('light-b', { member: 'light-1', peer: nodeKey.peerId, roster: genesis })).document)
      const store = entry.MemoryRosterStore.from([genesis.encode()], { trustRoot: { federation: genesis.federation, fingerprint: genesis.fingerprint } })
      const client = await entry.createLightClient({ nodeKey, credential, roster: store })
      try {
        const peer = await client.connect(wsAddrOf(full))
        assert.deepEqual([peer.memberId, peer.roles], ['full-1', ['full-node']])
        const reply = await client.request(wsAddrOf(full), HEADERS, new TextEncoder().encode('headers 1..8'))
        assert.equal(new TextDecoder().decode(reply), 'headers 1..8')
        assert.deepEqual(calls.calls.map(c => [c.peer.memberId, c.peer.roles]), [['light-1', ['light-client']]], 'the full node verified the light client too')

        const unknown = await client.connect(wsAddrOf(other)).then(() => undefined, (err: unknown) => err)
        assert.ok(unknown instanceof entry.MembershipRefusedError)
        assert.deepEqual([unknown.code, unknown.by], ['unknown-member', 'local'])
        const again = await client.connect(wsAddrOf(other)).then(() => undefined, (err: unknown) => err)
        assert.ok(again instanceof entry.MembershipRefusedError, 'a remembered outsider is reported with its code, not dialled again')
        assert.equal(again.code, 'unknown-member')

        assert.equal(await store.applyText(epoch2.encode(), 'test'), null)
        assert.equal((await client.connect(wsAddrOf(other))).memberId, 'full-2')

        const dropped = waitFor(client.gate, 'disconnected', d => d.memberId === 'full-1')
        assert.equal(await store.apply(entry.Roster.parse(fed.nextEpoch(r => revoke(r, { member: 'full-1' })).encode()), 'test'), null)
        assert.equal((await dropped).code, 'revoked')
      } finally {
        await client.stop()
      }
    })
  })
})
