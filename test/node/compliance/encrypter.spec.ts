// A mocha spec, run by compliance.registry.ts with the suite it installs (FEDGATE_COMPLIANCE_SUITE).
// Mocha loads .ts specs with require(), so this module must not use top-level await.
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ComponentLogger, ConnectionEncrypter, PrivateKey, Upgrader } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createFederationBuilder, writeRosterFile } from '../../../node/builder/index.ts'
import { FederationGate, generateNodeKey, membershipEncrypter, nodeKeyFromPrivateKey, RosterStore } from '../../../node/index.ts'

interface EncrypterSetup {
  setup (args?: { privateKey: PrivateKey }): Promise<ConnectionEncrypter>
  teardown (): Promise<void>
}

interface ComplianceSuite {
  tests (common: EncrypterSetup): void
  defaultLogger (): ComponentLogger
}

const MEMBER = 'val-compliance'

const suiteFile = process.env.FEDGATE_COMPLIANCE_SUITE
if (suiteFile === undefined) throw new Error('FEDGATE_COMPLIANCE_SUITE is not set; run this spec through test/node/compliance/compliance.registry.ts (npm run test:registry)')
const { tests, defaultLogger } = createRequire(import.meta.url)(suiteFile) as ComplianceSuite

// One signed roster lists the member; every key the suite hands to setup gets a credential from it.
const fed = createFederationBuilder({ federation: 'compliance-fed', members: [{ id: MEMBER, roles: ['validator'] }] })

interface OpenStore {
  readonly dir: string
  readonly store: RosterStore
}

let opened: Promise<OpenStore> | undefined
const gates: FederationGate[] = []

async function openStore (): Promise<OpenStore> {
  const dir = await mkdtemp(join(tmpdir(), 'fedgate-compliance-'))
  const rosterFile = join(dir, 'roster.json')
  await writeRosterFile(rosterFile, fed.roster)
  const store = new RosterStore({ dataDir: join(dir, 'data'), rosterFile })
  await store.open()
  return { dir, store }
}

tests({
  async setup (args) {
    opened ??= openStore()
    const { store } = await opened
    const nodeKey = args === undefined ? await generateNodeKey() : nodeKeyFromPrivateKey(args.privateKey)
    const credential = await fed.issue({ member: MEMBER, peer: nodeKey.peerId })
    const gate = new FederationGate({ nodeKey, credential, store, bans: false })
    gates.push(gate)
    // Noise asks the upgrader which muxers to offer; the suite has no upgrader, so offer none.
    const upgrader: Pick<Upgrader, 'getStreamMuxers'> = { getStreamMuxers: () => new Map() }
    return membershipEncrypter(gate)({
      privateKey: nodeKey.privateKey,
      peerId: peerIdFromPrivateKey(nodeKey.privateKey),
      logger: defaultLogger(),
      upgrader: upgrader as Upgrader
    })
  },
  async teardown () {
    gates.splice(0)
    if (opened === undefined) return
    const { dir, store } = await opened
    opened = undefined
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
})
