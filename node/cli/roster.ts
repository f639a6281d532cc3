import { Option, type Command } from 'commander'
import {
  acceptRoster, addMember, allowProtocol, countSignatures, describePolicyWarning, diffRosters, initRoster, isPresetName, policyWarnings,
  removeMember, revoke, PROTOCOL_PRESETS, RosterRefusedError, reasonFix, type AdminSet, type Member, type ReasonCode, type Revocation, type Roster
} from '../../membership/index.ts'
import { attributeToOptions, CliError, printResult, UsageError } from './io.ts'
import { editRoster, loadRoster, publicKeyOf, saveRoster } from './files.ts'
import { collect, peerId, positiveInt, roleList } from './options.ts'
import { closeMatches } from './suggest.ts'
import { assertMember, describeRevocation, diffRows, printEdit, revocationOf } from './roster-report.ts'
import { registerRosterGovernance } from './roster-govern.ts'
import { registerRosterSigning } from './roster-sign.ts'
import { registerRosterShow } from './roster-show.ts'

export type { RosterEditReport } from './roster-report.ts'

/** What `roster verify --json` prints. */
export interface RosterVerdict {
  ok: boolean
  epoch: number
  federation: string
  fingerprint: string
  /** Valid signatures by the admin set that decides (the previous epoch's, or the roster's own). */
  signatures: number
  threshold: number
  code?: ReasonCode
  message?: string
}

/**
 * `fedgate roster …`: create and edit the roster, sign it, verify it, compare two epochs.
 * Returns the `roster` command so further subcommands can be added to it.
 */
export function registerRoster (program: Command): Command {
  const roster = program.command('roster').description('create, edit, sign, verify and compare roster epochs')

  roster.command('init')
    .description('create the genesis roster (epoch 1, unsigned) with the default policy')
    .requiredOption('--federation <name>', 'federation name')
    .requiredOption('--admin <pub...>', 'admin public key (hex) or admin key file; repeat for each admin')
    .requiredOption('--threshold <k>', 'admin signatures required for each epoch', positiveInt)
    .requiredOption('--out <file>', 'roster file to create')
    .option('--roles <r1,r2,...>', 'roles the federation uses (default validator,relayer,full-node,light-client)', roleList)
    .option('--json', 'print one JSON document')
    .action(async (opts: { federation: string, admin: string[], threshold: number, out: string, roles?: string[], json?: boolean }) => {
      const admins = await Promise.all(opts.admin.map(a => publicKeyOf(a, 'admin', '--admin')))
      if (opts.threshold > admins.length) {
        throw new UsageError(`roster init: threshold ${opts.threshold} is more than the ${admins.length} admin key(s) given`,
          `give at least ${opts.threshold} --admin keys, or lower --threshold; the file was not written`)
      }
      let genesis: Roster
      try {
        genesis = initRoster({ federation: opts.federation, admins, threshold: opts.threshold, ...(opts.roles !== undefined ? { roles: opts.roles } : {}) })
      } catch (err) {
        throw attributeToOptions(opts.out, err)
      }
      await saveRoster(opts.out, genesis, { create: true })
      printEdit(opts.json, opts.out, genesis, `genesis: federation ${genesis.federation}, ${admins.length} admin(s), threshold ${opts.threshold}, roles ${[...genesis.roles].join(',')}`)
    })

  roster.command('add-member')
    .description('add a member with its roles and member key')
    .argument('<file>', 'roster file')
    .requiredOption('--id <id>', 'member id')
    .requiredOption('--roles <r[,r]>', 'roles the member holds', roleList)
    .requiredOption('--key <pub>', 'member public key (hex) or member key file')
    .option('--org <org>', 'organisation running the member')
    .option('--addr <multiaddr>', 'address to dial the member at; repeat for several', collect)
    .option('--max-connections <n>', 'connections the member may hold on one node', positiveInt)
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { id: string, roles: string[], key: string, org?: string, addr?: string[], maxConnections?: number, out?: string, json?: boolean }) => {
      const member: Member = {
        id: opts.id,
        roles: opts.roles,
        key: await publicKeyOf(opts.key, 'member', '--key'),
        ...(opts.org !== undefined ? { org: opts.org } : {}),
        ...(opts.addr !== undefined ? { addrs: opts.addr } : {}),
        ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {})
      }
      const edited = await editRoster(file, r => addMember(r, member), opts.out)
      printEdit(opts.json, opts.out ?? file, edited, `added member ${member.id} (${member.roles.join(',')})`)
    })

  roster.command('remove-member')
    .description('remove a member; its nodes are dropped once the epoch is accepted')
    .argument('<file>', 'roster file')
    .requiredOption('--id <id>', 'member id')
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { id: string, out?: string, json?: boolean }) => {
      const edited = await editRoster(file, r => {
        assertMember(file, r, opts.id, 'check the id')
        return removeMember(r, opts.id)
      }, opts.out)
      printEdit(opts.json, opts.out ?? file, edited, `removed member ${opts.id}`)
    })

  roster.command('revoke')
    .description('revoke a member, a node (PeerId) or one credential (fingerprint)')
    .argument('<file>', 'roster file')
    .addOption(new Option('--member <id>', 'revoke every credential of a member').conflicts(['peer', 'credential']))
    .addOption(new Option('--peer <peerId>', 'revoke a node key').argParser(peerId).conflicts(['member', 'credential']))
    .addOption(new Option('--credential <fingerprint>', 'revoke one credential (fedgate credential inspect prints its fingerprint)').conflicts(['member', 'peer']))
    .option('--force', 'revoke a member id the roster does not list (yet), e.g. to refuse it in advance')
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { member?: string, peer?: string, credential?: string, force?: boolean, out?: string, json?: boolean }) => {
      const revocation = revocationOf(opts)
      const edited = await editRoster(file, r => {
        if ('member' in revocation && opts.force !== true) {
          assertMember(file, r, revocation.member, 'check the id, or add --force to revoke an id the roster does not list (yet)')
        }
        return revoke(r, revocation)
      }, opts.out)
      printEdit(opts.json, opts.out ?? file, edited, `revoked ${describeRevocation(revocation)}`)
    })

  roster.command('allow')
    .description('set the roles allowed to open a protocol, a protocol family (/name/*, every version) or a preset\'s protocols (replaces earlier entries; unlisted protocols are denied)')
    .argument('<file>', 'roster file')
    .option('--protocol <id>', 'protocol id, e.g. /chain/consensus/1.0.0, or a family, e.g. /meshsub/*')
    .option('--preset <name>', `the protocols of a common libp2p service: ${Object.keys(PROTOCOL_PRESETS).join(', ')}`)
    .requiredOption('--roles <r[,r]>', 'roles allowed to open it', roleList)
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { protocol?: string, preset?: string, roles: string[], out?: string, json?: boolean }) => {
      const protocols = allowedProtocols(opts)
      const out = opts.out ?? file
      const edited = await editRoster(file, r => protocols.reduce((next, protocol) => allowProtocol(next, protocol, opts.roles), r), opts.out)
      printEdit(opts.json, out, edited, `${opts.preset === undefined ? '' : `preset ${opts.preset}: `}${protocols.join(', ')} allowed for ${opts.roles.join(',')}`)
      // A service allowed without what it depends on fails silently on every node: say so now.
      const view = { protocols: edited.policy.protocols, accepts: new Map() }
      for (const warning of policyWarnings(view, protocols, edited.roles, edited.roles)) {
        if (warning.kind === 'dependency-denied') process.stderr.write(`warning: ${describePolicyWarning(warning).replaceAll('FILE', out)}\n`)
      }
    })

  roster.command('verify')
    .description('check the roster is fully valid: format, signatures, threshold; exit 0 only if it is')
    .argument('<file>', 'roster file')
    .option('--previous <file>', 'the accepted epoch it must follow (its admins must have signed; epoch must be higher)')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { previous?: string, json?: boolean }) => {
      const previous = opts.previous === undefined ? null : await loadRoster(opts.previous)
      const roster = await loadRoster(file)
      const verdict = verifyRoster(previous, roster)
      const decidedBy = previous === null ? 'genesis: its own admin set' : `admin set of epoch ${previous.epoch}`
      printResult(opts.json, verdict, () => [
        ['federation', verdict.federation],
        ['epoch', verdict.epoch],
        ['fingerprint', verdict.fingerprint],
        ['signatures', `${verdict.signatures} valid, threshold ${verdict.threshold} (${decidedBy})`],
        ['verdict', verdict.code ?? 'ok']
      ])
      if (verdict.code !== undefined) {
        throw new CliError(`${file}: ${verdict.code}: ${verdict.message ?? ''}`, { fix: reasonFix(verdict.code) })
      }
    })

  roster.command('diff')
    .description('what changes from OLD to NEW, and whose connections it drops')
    .argument('<old>', 'roster file of the earlier epoch')
    .argument('<new>', 'roster file of the later epoch')
    .option('--json', 'print the diff as one JSON document')
    .action(async (oldFile: string, newFile: string, opts: { json?: boolean }) => {
      const diff = diffRosters(await loadRoster(oldFile), await loadRoster(newFile))
      printResult(opts.json, diff, () => diffRows(diff))
    })

  registerRosterSigning(roster)
  registerRosterGovernance(roster)
  registerRosterShow(roster)
  return roster
}

/** The policy keys `roster allow` sets: one `--protocol`, or a `--preset`'s. */
function allowedProtocols (opts: { protocol?: string, preset?: string }): readonly string[] {
  if ((opts.protocol === undefined) === (opts.preset === undefined)) {
    throw new UsageError('roster allow: give either --protocol or --preset', `e.g. --protocol /chain/consensus/1.0.0, or --preset ${Object.keys(PROTOCOL_PRESETS).join('|')}`)
  }
  if (opts.protocol !== undefined) return [opts.protocol]
  const preset = opts.preset ?? ''
  if (!isPresetName(preset)) {
    const close = closeMatches(preset, Object.keys(PROTOCOL_PRESETS))
    throw new UsageError(`roster allow: no preset ${JSON.stringify(preset)}${close.length > 0 ? `; close matches: ${close.join(', ')}` : ''}`,
      `use one of: ${Object.keys(PROTOCOL_PRESETS).join(', ')}`)
  }
  return PROTOCOL_PRESETS[preset].protocols
}


function verifyRoster (previous: Roster | null, roster: Roster): RosterVerdict {
  const admins: AdminSet = previous?.document.admins ?? roster.document.admins
  const verdict: RosterVerdict = {
    ok: true,
    epoch: roster.epoch,
    federation: roster.federation,
    fingerprint: roster.fingerprint,
    signatures: countSignatures(roster, admins).valid.length,
    threshold: admins.threshold
  }
  try {
    acceptRoster(previous, roster)
  } catch (err) {
    if (!(err instanceof RosterRefusedError)) throw err
    return { ...verdict, ok: false, code: err.code, message: err.message.slice(err.code.length + 2) }
  }
  return verdict
}
