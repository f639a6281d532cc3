import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CommanderError } from 'commander'
import {
  CredentialIssueError, InvalidOptionError, KeyFileError, MalformedError, RosterEditError, RosterRefusedError, isoTime,
  issueCredential, reasonFix, toHighS, writeKeyFile, type ReasonCode, type RosterDocument
} from '../../node/index.ts'
import { CliError, describeError, reportError, UsageError } from '../../node/cli/io.ts'
import { ADMINS, DAY_MS, MEMBER_KEYS, clone, credentialFields, genesis, mintCredential, nodeKey, signingKey } from '../membership/fixtures.ts'
import { assertFails, fedgate, json } from './run.ts'

interface BadInput {
  readonly name: string
  /** Arguments; `@name` stands for the fixture file `name` in the temp dir. */
  readonly args: readonly string[]
  readonly exit: 1 | 2
  /** Fragments the one error line must contain: the file, the JSON path or option, the fix. */
  readonly mentions?: readonly string[]
  /** Reason code in the `--json` document on stdout. */
  readonly code?: ReasonCode
  /** A fixture file that must be byte-for-byte unchanged afterwards. */
  readonly unchanged?: string
  /** What the error line must not show (e.g. the name of a temp file the operator never chose). */
  readonly hides?: RegExp
}

const OTHER_PEER = '12D3KooWScbgcgdSP7H7AxD51yLADzyUXu7X2B34VsC8x35UF79d'

/** Every command, fed bad input: wrong command lines exit 2, refused files and verdicts exit 1. */
const BAD_INPUTS: readonly BadInput[] = [
  { name: 'keygen without --out', args: ['keygen', 'admin'], exit: 2, mentions: ['--out'] },
  { name: 'keygen --type for an admin key', args: ['keygen', 'admin', '--type', 'ed25519', '--out', '@unused.key'], exit: 2, mentions: ['--type'] },
  { name: 'keygen into a folder that does not exist', args: ['keygen', 'node', '--out', '@no-such-folder/node.key'], exit: 1, mentions: ['@no-such-folder/node.key', 'folder @no-such-folder does not exist'], hides: /node\.key\.\d+/ },
  { name: 'keygen inside a file', args: ['keygen', 'admin', '--out', '@roster.json/admin.key'], exit: 1, mentions: ['@roster.json is not a folder'], hides: /admin\.key\.\d+/, unchanged: 'roster.json' },
  { name: 'roster init into a folder that does not exist', args: ['roster', 'init', '--federation', 'f', '--admin', '@admin-1.key', '--threshold', '1', '--out', '@no-such-folder/roster.json'], exit: 1, mentions: ['folder @no-such-folder does not exist'], hides: /roster\.json\.\d+/ },
  { name: 'roster init with a threshold above the admin count', args: ['roster', 'init', '--federation', 'f', '--admin', '@admin-1.key', '--threshold', '3', '--out', '@unused.json'], exit: 2, mentions: ['threshold 3 is more than the 1 admin key(s) given'] },
  { name: 'keygen over an existing key', args: ['keygen', 'admin', '--out', '@admin-1.key'], exit: 1, mentions: ['@admin-1.key'], unchanged: 'admin-1.key' },
  { name: 'roster init without --threshold', args: ['roster', 'init', '--federation', 'f', '--admin', '@admin-1.key', '--out', '@unused.json'], exit: 2, mentions: ['--threshold'] },
  { name: 'roster init with a short hex admin key', args: ['roster', 'init', '--federation', 'f', '--admin', '02abcd', '--threshold', '1', '--out', '@unused.json'], exit: 2, mentions: ['--admin', '02abcd'] },
  { name: 'roster init over an existing roster', args: ['roster', 'init', '--federation', 'f', '--admin', '@admin-1.key', '--threshold', '1', '--out', '@roster.json'], exit: 1, mentions: ['@roster.json'], unchanged: 'roster.json' },
  { name: 'roster add-member with an unknown option', args: ['roster', 'add-member', '@roster.json', '--id', 'x', '--roles', 'validator', '--key', '@member-rel-b.key', '--colour', 'red'], exit: 2, mentions: ['--colour'], unchanged: 'roster.json' },
  { name: 'roster add-member --max-connections not a number', args: ['roster', 'add-member', '@roster.json', '--id', 'x', '--roles', 'validator', '--key', '@member-rel-b.key', '--max-connections', 'many'], exit: 2, mentions: ['--max-connections'] },
  { name: 'roster add-member --addr not a multiaddr', args: ['roster', 'add-member', '@roster.json', '--id', 'new-1', '--roles', 'validator', '--key', signingKey('member', 'cli-new').publicKey, '--addr', 'not-a-multiaddr'], exit: 2, mentions: ['@roster.json', '$.members[3].addrs[0]'], unchanged: 'roster.json' },
  { name: 'roster add-member of an existing member id', args: ['roster', 'add-member', '@roster.json', '--id', 'val-a', '--roles', 'validator', '--key', '@member-rel-b.key'], exit: 1, mentions: ['@roster.json', 'val-a'], unchanged: 'roster.json' },
  { name: 'roster add-member on a malformed roster', args: ['roster', 'add-member', '@malformed.json', '--id', 'x', '--roles', 'validator', '--key', '@member-rel-b.key'], exit: 1, mentions: ['@malformed.json', '$.members[1].key'], unchanged: 'malformed.json' },
  { name: 'roster remove-member without --id', args: ['roster', 'remove-member', '@roster.json'], exit: 2, mentions: ['--id'] },
  { name: 'roster remove-member of an unknown member', args: ['roster', 'remove-member', '@roster.json', '--id', 'nobody'], exit: 1, mentions: ['@roster.json', 'nobody'], unchanged: 'roster.json' },
  { name: 'roster remove-member of a misspelt member', args: ['roster', 'remove-member', '@roster.json', '--id', 'val_a'], exit: 1, mentions: ['"val_a"', 'close matches: val-a'], unchanged: 'roster.json' },
  { name: 'roster revoke --member of an id not in the roster', args: ['roster', 'revoke', '@roster.json', '--member', 'rel-bb'], exit: 1, mentions: ['@roster.json', '"rel-bb"', 'close matches: rel-b', '--force'], unchanged: 'roster.json' },
  { name: 'roster revoke --member of an id like none in the roster', args: ['roster', 'revoke', '@roster.json', '--member', 'zz-unrelated-9'], exit: 1, mentions: ['"zz-unrelated-9"', 'no close match'], unchanged: 'roster.json' },
  { name: 'roster revoke with two selectors', args: ['roster', 'revoke', '@roster.json', '--member', 'val-a', '--peer', OTHER_PEER], exit: 2, mentions: ['--member', '--peer'] },
  { name: 'roster revoke with no selector', args: ['roster', 'revoke', '@roster.json'], exit: 2, mentions: ['--member', '--peer', '--credential'] },
  { name: 'roster revoke --credential not a fingerprint', args: ['roster', 'revoke', '@roster.json', '--credential', 'abc'], exit: 2, mentions: ['$.revoked[0].credential'], unchanged: 'roster.json' },
  { name: 'roster allow for an undeclared role', args: ['roster', 'allow', '@roster.json', '--protocol', '/chain/x/1.0.0', '--roles', 'bogus'], exit: 2, mentions: ['$.policy.protocols'], unchanged: 'roster.json' },
  { name: 'roster allow with an unknown preset', args: ['roster', 'allow', '@roster.json', '--preset', 'gossipsup', '--roles', 'validator'], exit: 2, mentions: ['"gossipsup"', 'close matches: gossipsub'], unchanged: 'roster.json' },
  { name: 'roster allow with both --protocol and --preset', args: ['roster', 'allow', '@roster.json', '--protocol', '/chain/x/1.0.0', '--preset', 'ping', '--roles', 'validator'], exit: 2, mentions: ['--protocol', '--preset'], unchanged: 'roster.json' },
  { name: 'roster allow with neither --protocol nor --preset', args: ['roster', 'allow', '@roster.json', '--roles', 'validator'], exit: 2, mentions: ['--protocol', '--preset'], unchanged: 'roster.json' },
  { name: 'roster allow of a malformed protocol family', args: ['roster', 'allow', '@roster.json', '--protocol', '/meshsub/*/x', '--roles', 'validator'], exit: 2, mentions: ['$.policy.protocols["/meshsub/*/x"]', '/meshsub/*'], unchanged: 'roster.json' },
  { name: 'roster sign without --key', args: ['roster', 'sign', '@roster.json'], exit: 2, mentions: ['--key'] },
  { name: 'roster sign with a member key', args: ['roster', 'sign', '@roster.json', '--key', '@member-val-a.key'], exit: 1, mentions: ['@member-val-a.key', 'admin'], unchanged: 'roster.json' },
  { name: 'roster sign with a world-readable admin key', args: ['roster', 'sign', '@roster.json', '--key', '@admin-open.key'], exit: 1, mentions: ['@admin-open.key', 'chmod 600'], unchanged: 'roster.json' },
  { name: 'roster verify of a missing file', args: ['roster', 'verify', '@missing.json'], exit: 1, mentions: ['@missing.json'] },
  { name: 'roster verify of a high-S signature', args: ['roster', 'verify', '@high-s.json', '--json'], exit: 1, code: 'bad-signature' },
  { name: 'roster verify of a tampered signature', args: ['roster', 'verify', '@tampered-sig.json', '--json'], exit: 1, code: 'bad-signature' },
  { name: 'roster verify of content changed after signing', args: ['roster', 'verify', '@tampered-content.json', '--json'], exit: 1, code: 'bad-signature' },
  { name: 'roster verify against a previous epoch that is not older', args: ['roster', 'verify', '@roster.json', '--previous', '@roster.json', '--json'], exit: 1, code: 'roster-stale' },
  { name: 'roster diff with one file', args: ['roster', 'diff', '@roster.json'], exit: 2, mentions: ['new'] },
  { name: 'roster diff of a malformed roster', args: ['roster', 'diff', '@roster.json', '@malformed.json'], exit: 1, mentions: ['@malformed.json', '$.members[1].key'] },
  { name: 'credential issue with both --node-key and --peer', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--node-key', '@node.key', '--peer', OTHER_PEER, '--roster', '@roster.json', '--out', '@unused.cred'], exit: 2, mentions: ['--node-key', '--peer'] },
  { name: 'credential issue with neither --node-key nor --peer', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--roster', '@roster.json', '--out', '@unused.cred'], exit: 2, mentions: ['--node-key', '--peer'] },
  { name: 'credential issue --ttl not a duration', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--peer', OTHER_PEER, '--ttl', '5x', '--roster', '@roster.json', '--out', '@unused.cred'], exit: 2, mentions: ['--ttl'] },
  { name: 'credential issue --ttl above the roster policy', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--peer', OTHER_PEER, '--ttl', '30d', '--roster', '@roster.json', '--out', '@unused.cred'], exit: 1, mentions: ['@roster.json', '--ttl 30d is above', 'credentialMaxTtl of 7d'] },
  { name: 'credential issue into a folder that does not exist', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--peer', OTHER_PEER, '--roster', '@roster.json', '--out', '@no-such-folder/val-a.cred'], exit: 1, mentions: ['folder @no-such-folder does not exist'], hides: /val-a\.cred\.\d+/ },
  { name: 'credential issue with another member\'s key', args: ['credential', 'issue', '--member-key', '@member-rel-b.key', '--member', 'val-a', '--peer', OTHER_PEER, '--roster', '@roster.json', '--out', '@unused.cred'], exit: 1, mentions: ['@roster.json', 'val-a'] },
  { name: 'credential issue for a role the member lacks', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--peer', OTHER_PEER, '--roles', 'relayer', '--roster', '@roster.json', '--out', '@unused.cred'], exit: 1, mentions: ['relayer'] },
  { name: 'credential issue with a missing roster', args: ['credential', 'issue', '--member-key', '@member-val-a.key', '--member', 'val-a', '--node-key', '@node.key', '--roster', '@missing.json', '--out', '@unused.cred'], exit: 1, mentions: ['@missing.json'] },
  { name: 'credential inspect of a truncated file', args: ['credential', 'inspect', '@truncated.cred'], exit: 1, mentions: ['@truncated.cred'] },
  { name: 'credential inspect --peer without --roster', args: ['credential', 'inspect', '@valid.cred', '--peer', OTHER_PEER], exit: 2, mentions: ['--roster'] },
  { name: 'credential inspect --peer not a PeerId', args: ['credential', 'inspect', '@valid.cred', '--roster', '@roster.json', '--peer', 'QmNotAKey'], exit: 2, mentions: ['--peer'] },
  { name: 'credential inspect of an expired credential', args: ['credential', 'inspect', '@expired.cred', '--roster', '@roster.json', '--json'], exit: 1, code: 'expired' }
]

describe('fedgate CLI: bad input', { concurrency: 2 }, () => {
  let dir: string
  const file = (name: string): string => join(dir, name)
  const expand = (arg: string): string => arg.startsWith('@') ? file(arg.slice(1)) : arg

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedgate-cli-bad-'))
    const node = await nodeKey('cli')
    const [admin1, admin2] = ADMINS
    await writeKeyFile(file('admin-1.key'), admin1)
    await writeKeyFile(file('admin-open.key'), admin2)
    await chmod(file('admin-open.key'), 0o644)
    await writeKeyFile(file('member-val-a.key'), MEMBER_KEYS['val-a'])
    await writeKeyFile(file('member-rel-b.key'), MEMBER_KEYS['rel-b'])
    await writeKeyFile(file('node.key'), node)

    const roster = genesis()
    await writeFile(file('roster.json'), roster.encode())
    const tamper = async (name: string, change: (doc: { -readonly [K in keyof RosterDocument]: unknown }) => void): Promise<void> => {
      const doc = clone(roster.document) as { -readonly [K in keyof RosterDocument]: unknown }
      change(doc)
      await writeFile(file(name), JSON.stringify(doc, null, 2))
    }
    const sigs = roster.document.signatures
    const first = sigs[0]
    assert.ok(first !== undefined)
    const flipped = (first.sig.endsWith('0') ? first.sig.slice(0, -1) + '1' : first.sig.slice(0, -1) + '0')
    await tamper('high-s.json', d => { d.signatures = [{ ...first, sig: toHighS(first.sig) }, ...sigs.slice(1)] })
    await tamper('tampered-sig.json', d => { d.signatures = [{ ...first, sig: flipped }, ...sigs.slice(1)] })
    await tamper('tampered-content.json', d => { d.federation = 'other-fed' })
    await tamper('malformed.json', d => { d.members = roster.document.members.map((m, i) => i === 1 ? { ...m, key: 'zz' } : m) })

    const now = Date.now()
    const valid = issueCredential({ roster, memberKey: MEMBER_KEYS['val-a'], memberId: 'val-a', peer: node.peerId, now })
    const text = JSON.stringify(valid.document, null, 2)
    await writeFile(file('valid.cred'), text)
    await writeFile(file('truncated.cred'), text.slice(0, text.length / 2))
    const expired = mintCredential(credentialFields(node.peerId, { notBefore: isoTime(now - 2 * DAY_MS), notAfter: isoTime(now - DAY_MS) }), MEMBER_KEYS['val-a'])
    await writeFile(file('expired.cred'), expired.encode())
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  for (const bad of BAD_INPUTS) {
    it(`${bad.name}: exit ${bad.exit}, one error line`, async () => {
      const before = bad.unchanged === undefined ? undefined : await readFile(file(bad.unchanged))
      const run = await fedgate(...bad.args.map(expand))
      const line = assertFails(run, bad.exit)
      for (const fragment of bad.mentions ?? []) {
        const expanded = fragment.replaceAll(/@[\w.-]+/g, expand)
        assert.ok(line.includes(expanded), `error line should mention ${expanded}: ${line}`)
      }
      if (bad.hides !== undefined) assert.doesNotMatch(line, bad.hides)
      if (bad.code !== undefined) {
        const doc = json<{ code?: string, verdict?: string }>(run)
        assert.equal(doc.code ?? doc.verdict, bad.code)
        assert.ok(line.includes(bad.code))
      }
      if (bad.unchanged !== undefined && before !== undefined) {
        assert.deepEqual(await readFile(file(bad.unchanged)), before, `${bad.unchanged} was modified`)
      }
    })
  }
})

describe('CLI error reporting', () => {
  const cases: ReadonlyArray<readonly [string, unknown, number]> = [
    ['MalformedError', new MalformedError('$.epoch', 'expected an integer'), 1],
    ['KeyFileError', new KeyFileError('a.key', 'no such key file'), 1],
    ['RosterRefusedError', new RosterRefusedError('threshold-not-met', 'epoch 2 has 1 valid signature(s)'), 1],
    ['RosterEditError', new RosterEditError('member "x" is already in the roster'), 1],
    ['CredentialIssueError', new CredentialIssueError('TTL too long'), 1],
    ['InvalidOptionError', new InvalidOptionError('--ttl', 'bad'), 2],
    ['CliError', new CliError('r.json: no such roster file\nsecond line', { fix: 'create it' }), 1],
    ['UsageError', new UsageError('give --member'), 2],
    ['a plain Error', new Error('unexpected'), 1],
    ['a thrown string', 'boom', 1]
  ]

  for (const [what, err, exitCode] of cases) {
    it(`${what} becomes one line and exit ${exitCode}`, () => {
      const report = describeError(err)
      assert.equal(report.exitCode, exitCode)
      assert.match(report.line, /^error: \S/)
      assert.ok(!report.line.includes('\n'))
    })
  }

  it('adds the reason table\'s fix to refusals', () => {
    const { line } = describeError(new RosterRefusedError('threshold-not-met', 'x'))
    assert.ok(line.endsWith(`; fix: ${reasonFix('threshold-not-met')}`))
  })

  it('treats commander help as success and commander errors as usage errors', () => {
    assert.equal(reportError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), 0)
    assert.equal(reportError(new CommanderError(1, 'commander.unknownOption', 'error: unknown option')), 2)
  })
})
