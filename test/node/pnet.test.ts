import { after, afterEach, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { stat, readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { readSwarmKey } from '../../node/files/secret-file.ts'
import { fedgate, json } from '../cli/run.ts'
import { addrOf, createFederation, eventually, rejection, type Federation } from './fixture.ts'

function swarmKey (): Uint8Array {
  const key = new Uint8Array(95)
  generateKey(key)
  return key
}

/**
 * The optional federation-wide pre-shared key: a node that lacks it is refused before Noise (the
 * protected node does no handshake work for it), while members holding it are admitted as before.
 */
describe('pre-shared key (libp2p pnet)', () => {
  let fed: Federation
  let dir: string
  const psk = swarmKey()

  before(async () => {
    fed = await createFederation({ members: [{ id: 'val-1', roles: ['validator'] }, { id: 'val-2', roles: ['validator'] }] })
    dir = await mkdtemp(join(tmpdir(), 'fedgate-psk-'))
  })
  afterEach(async () => { await fed.stopAll() })
  after(async () => {
    await fed.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('members holding the key are admitted; a member with another key and a stock node fail before any Noise work', async () => {
    const victim = await fed.startNode('val-1', { psk })
    const member = await fed.startNode('val-2', { psk })
    await member.dial(addrOf(victim))
    await eventually(() => victim.peers().some(p => p.memberId === 'val-2'), 'the member with the key to be admitted')
    await fed.stop('val-2')

    const wrongKey = await fed.startNode('val-2b', { member: 'val-2', psk: swarmKey() })
    await rejection(wrongKey.dial(addrOf(victim)), 'a dial with another pre-shared key')
    const stock = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionMonitor: { enabled: false } })
    try {
      await rejection(stock.dial(addrOf(victim)), 'a stock node without the key')
    } finally {
      await stock.stop()
    }
    // Neither reached an encrypter: no no-credential refusal, no admission.
    assert.ok(!victim.refusals().some(r => r.code === 'no-credential'), 'no Noise handshake was run for them')
    assert.deepEqual(victim.peers(), [])
  })

  it('fedgate keygen psk writes a swarm key (mode 0600) that the daemon reads, and refuses to overwrite it', async () => {
    const file = join(dir, 'swarm.key')
    const made = await fedgate('keygen', 'psk', '--out', file, '--json')
    assert.equal(made.code, 0, made.stderr)
    assert.equal(json(made).kind, 'psk')
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    assert.match(await readFile(file, 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    assert.equal((await readSwarmKey(file)).length, 95)
    const again = await fedgate('keygen', 'psk', '--out', file)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already exists/)
  })
})
