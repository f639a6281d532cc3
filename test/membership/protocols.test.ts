import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  allowProtocol, describePolicyWarning, generateSigningKey, initRoster, policyWarnings, protocolAllows, rolesAllowedOn,
  IDENTIFY_PROTOCOL, PROTOCOL_PRESETS, type PolicyView
} from '../../membership/index.ts'

const admin = generateSigningKey('admin')
const genesis = initRoster({ federation: 'fed', admins: [admin.publicKey], threshold: 1 })
const table = (entries: Record<string, readonly string[]>): ReadonlyMap<string, ReadonlySet<string>> =>
  new Map(Object.entries(entries).map(([k, v]) => [k, new Set(v)]))
const open = (protocols: Record<string, readonly string[]>): PolicyView => ({ protocols: table(protocols), accepts: new Map() })
const ROLES = ['validator', 'relayer', 'full-node', 'light-client']

describe('protocol families in policy.protocols', () => {
  it('a family entry allows every version of one protocol and nothing else', () => {
    const roster = allowProtocol(genesis, '/meshsub/*', ['validator'])
    const allows = (protocol: string): boolean => protocolAllows(roster.policy, protocol, ['validator'])
    for (const protocol of ['/meshsub/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0', '/meshsub/1.3.0']) assert.ok(allows(protocol), protocol)
    for (const protocol of ['/meshsub', '/meshsub/', '/meshsub/1.2.0/x', '/meshsubx/1.2.0', '/floodsub/1.0.0', '/x/meshsub/1.2.0']) {
      assert.equal(allows(protocol), false, protocol)
    }
    assert.equal(protocolAllows(roster.policy, '/meshsub/1.2.0', ['relayer']), false)
  })

  it('an exact entry wins over its family, so one version can be narrowed', () => {
    let roster = allowProtocol(genesis, '/chain/sync/*', ['validator', 'full-node'])
    roster = allowProtocol(roster, '/chain/sync/2.0.0', ['validator'])
    assert.ok(protocolAllows(roster.policy, '/chain/sync/1.0.0', ['full-node']))
    assert.equal(protocolAllows(roster.policy, '/chain/sync/2.0.0', ['full-node']), false)
    assert.deepEqual([...rolesAllowedOn(roster.policy.protocols, '/chain/sync/2.0.0') ?? []], ['validator'])
  })

  for (const bad of ['/*', '/meshsub/*/x', '/mesh*/1.0.0', '/meshsub/1.*', '/meshsub/**']) {
    it(`refuses the malformed key ${bad}, naming the path and the form`, () => {
      assert.throws(() => allowProtocol(genesis, bad, ['validator']), (err: Error) =>
        err.name === 'MalformedError' && err.message.includes(`$.policy.protocols[${JSON.stringify(bad)}]`) && err.message.includes('/meshsub/*'))
    })
  }
})

describe('protocol presets', () => {
  it('every preset parses as policy entries, and allowing it allows the ids its library speaks', () => {
    const speaks: Record<string, readonly string[]> = {
      'identify': ['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0'],
      'ping': ['/ipfs/ping/1.0.0'],
      'gossipsub': ['/meshsub/1.0.0', '/meshsub/1.1.0', '/meshsub/1.2.0', '/floodsub/1.0.0'],
      'floodsub': ['/floodsub/1.0.0'],
      'kad-dht': ['/ipfs/kad/1.0.0', '/ipfs/lan/kad/1.0.0'],
      'fetch': ['/libp2p/fetch/0.0.1'],
      'circuit-relay': ['/libp2p/circuit/relay/0.2.0/hop', '/libp2p/circuit/relay/0.2.0/stop']
    }
    assert.deepEqual(Object.keys(PROTOCOL_PRESETS).sort(), Object.keys(speaks).sort())
    for (const [name, preset] of Object.entries(PROTOCOL_PRESETS)) {
      const roster = preset.protocols.reduce((r, p) => allowProtocol(r, p, ['validator']), genesis)
      for (const protocol of speaks[name] ?? []) assert.ok(protocolAllows(roster.policy, protocol, ['validator']), `${name}: ${protocol}`)
      assert.equal(protocolAllows(roster.policy, '/chain/consensus/1.0.0', ['validator']), false)
    }
  })
})

describe('policyWarnings', () => {
  it('gossipsub allowed without identify: a dependency warning naming the roles and the fix', () => {
    const warnings = policyWarnings(open({ '/meshsub/*': ['validator', 'full-node'], '/ipfs/id/*': ['full-node'] }), ['/meshsub/1.2.0'], ['validator'], ROLES)
    assert.deepEqual(warnings, [{ kind: 'dependency-denied', protocol: '/meshsub/1.2.0', needs: IDENTIFY_PROTOCOL, roles: ['validator'], fixRoles: ['full-node', 'validator'] }])
    const line = describePolicyWarning(warnings[0] ?? assert.fail('no warning'))
    assert.ok(line.includes('--preset identify --roles full-node,validator'), line)
  })

  it('kad-dht needs identify too; with identify allowed there is nothing to say', () => {
    assert.equal(policyWarnings(open({ '/ipfs/kad/*': ['validator'] }), ['/ipfs/kad/1.0.0'], ['validator'], ROLES)[0]?.kind, 'dependency-denied')
    assert.deepEqual(policyWarnings(open({ '/ipfs/kad/*': ['validator'], '/ipfs/id/1.0.0': ['validator'] }), ['/ipfs/kad/1.0.0', '/ipfs/id/1.0.0'], ['validator'], ROLES), [])
  })

  it('a registered protocol no accepted role may open is unreachable; roles the node does not accept do not count', () => {
    const view: PolicyView = { protocols: table({ '/chain/headers/1.0.0': ['light-client'], '/ipfs/ping/*': ['validator', 'relayer'] }), accepts: table({ validator: ['validator', 'relayer'] }) }
    assert.deepEqual(policyWarnings(view, ['/chain/headers/1.0.0', '/ipfs/ping/1.0.0', '/chain/unlisted/1.0.0'], ['validator'], ROLES), [
      { kind: 'protocol-unreachable', protocol: '/chain/headers/1.0.0' },
      { kind: 'protocol-unreachable', protocol: '/chain/unlisted/1.0.0' }
    ])
  })
  it('ping denied to a role this node accepts: connections would be closed by libp2p\'s connection monitor', () => {
    const view: PolicyView = { protocols: table({ '/ipfs/ping/*': ['validator'] }), accepts: table({ validator: ['validator', 'relayer'] }) }
    const warnings = policyWarnings(view, ['/ipfs/ping/1.0.0'], ['validator'], ROLES)
    assert.deepEqual(warnings, [{ kind: 'ping-denied', protocol: '/ipfs/ping/1.0.0', roles: ['relayer'], fixRoles: ['relayer', 'validator'] }])
    assert.ok(describePolicyWarning(warnings[0] ?? assert.fail('no warning')).includes('--preset ping --roles relayer,validator'))
    assert.equal(policyWarnings({ ...view, protocols: table({ '/ipfs/ping/*': ['validator', 'relayer'] }) }, ['/ipfs/ping/1.0.0'], ['validator'], ROLES).length, 0)
  })
})
