import { InvalidArgumentError, Option, type Command } from 'commander'
import {
  setAdmins, setPolicy, unrevoke, updateMember, type MemberUpdate, type Roster
} from '../../membership/index.ts'
import { editRoster, publicKeyOf } from './files.ts'
import { UsageError } from './io.ts'
import { collect, peerId, positiveInt, roleList } from './options.ts'
import { assertMember, describeAdmins, describeRevocation, printEdit, revocationOf } from './roster-report.ts'

/** Limits written as durations (`3s`); the others are counts. */
const DURATION_LIMITS = new Set(['firstBytesTimeout', 'handshakeTimeout'])

/**
 * `fedgate roster set-admins|set-policy|update-member|unrevoke`: the edits that change who governs
 * the federation and how, each starting the next epoch unsigned like every other edit.
 */
export function registerRosterGovernance (roster: Command): void {
  roster.command('set-admins')
    .description('replace the admin set; the current admins sign this epoch, the new admins sign the ones after it')
    .argument('<file>', 'roster file')
    .requiredOption('--admin <pub...>', 'admin public key (hex) or admin key file; repeat for each admin of the new set')
    .requiredOption('--threshold <k>', 'admin signatures the new set requires for each later epoch', positiveInt)
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { admin: string[], threshold: number, out?: string, json?: boolean }) => {
      const keys = [...new Set(await Promise.all(opts.admin.map(a => publicKeyOf(a, 'admin', '--admin'))))]
      if (opts.threshold > keys.length) {
        throw new UsageError(`roster set-admins: threshold ${opts.threshold} is more than the ${keys.length} distinct admin key(s) given`,
          `give at least ${opts.threshold} --admin keys, or lower --threshold; the file was not written`)
      }
      let before: Roster | undefined
      const edited = await editRoster(file, r => {
        before = r
        return setAdmins(r, { threshold: opts.threshold, keys })
      }, opts.out)
      const old = before?.document.admins ?? edited.document.admins
      const added = keys.filter(k => !old.keys.includes(k))
      const removed = old.keys.filter(k => !keys.includes(k))
      const deciding = before?.signed === true ? `the admins of epoch ${before.epoch} (${describeAdmins(old)}) sign this epoch` : 'the admins of the epoch before it sign this epoch'
      printEdit(opts.json, opts.out ?? file, edited,
        `admins ${describeAdmins(old)} -> ${describeAdmins(edited.document.admins)}` +
        `${added.length > 0 ? `, added ${added.join(' ')}` : ''}${removed.length > 0 ? `, removed ${removed.join(' ')}` : ''}; ` +
        `${deciding}, the new admins sign the epochs after it`)
    })

  roster.command('set-policy')
    .description('change the roster policy: which roles accept which, protocol access, credential lifetime, clock skew, connection limits')
    .argument('<file>', 'roster file')
    .option('--accepts <role=r[,r]>', 'the peer roles a node of ROLE accepts (repeatable)', keyedRoles, [])
    .option('--protocol <id=r[,r]>', 'the roles allowed to open protocol ID (repeatable; the same as roster allow)', keyedRoles, [])
    .option('--remove-protocol <id>', 'deny protocol ID to every role again (repeatable)', collect)
    .option('--credential-max-ttl <duration>', 'the longest credential lifetime nodes accept, e.g. 7d')
    .option('--clock-skew <duration>', 'clock difference tolerated on credential times, e.g. 60s')
    .option('--limit <name=value>', 'a connection limit, e.g. maxConnectionsPerMember=8 or handshakeTimeout=10s (repeatable)', keyedValue, [])
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: PolicyOptions) => {
      const changes = policyChanges(opts)
      if (changes.length === 0) {
        throw new UsageError('roster set-policy: nothing to change', 'give at least one of --accepts, --protocol, --remove-protocol, --credential-max-ttl, --clock-skew, --limit')
      }
      const edited = await editRoster(file, r => {
        let next = r
        for (const change of changes) next = setPolicy(next, change.key, change.value(next.document.policy[change.key]))
        return next
      }, opts.out)
      printEdit(opts.json, opts.out ?? file, edited, `policy ${changes.map(c => c.describe).join(', ')}`)
    })

  roster.command('update-member')
    .description('change a listed member\'s roles, key, organisation, addresses or connection cap')
    .argument('<file>', 'roster file')
    .requiredOption('--id <id>', 'member id')
    .option('--roles <r[,r]>', 'the roles it holds from now on', roleList)
    .option('--key <pub>', 'its new member key (hex or member key file); credentials signed by the old key stop working', undefined)
    .option('--org <org>', 'organisation running the member')
    .option('--addr <multiaddr>', 'its addresses from now on (repeatable; replaces the listed ones)', collect)
    .option('--max-connections <n>', 'connections the member may hold on one node', positiveInt)
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { id: string, roles?: string[], key?: string, org?: string, addr?: string[], maxConnections?: number, out?: string, json?: boolean }) => {
      const update: MemberUpdate = {
        ...(opts.roles !== undefined ? { roles: opts.roles } : {}),
        ...(opts.key !== undefined ? { key: await publicKeyOf(opts.key, 'member', '--key') } : {}),
        ...(opts.org !== undefined ? { org: opts.org } : {}),
        ...(opts.addr !== undefined ? { addrs: opts.addr } : {}),
        ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {})
      }
      if (Object.keys(update).length === 0) {
        throw new UsageError('roster update-member: nothing to change', 'give at least one of --roles, --key, --org, --addr, --max-connections')
      }
      const edited = await editRoster(file, r => {
        assertMember(file, r, opts.id, 'check the id; add a new member with fedgate roster add-member')
        return updateMember(r, opts.id, update)
      }, opts.out)
      printEdit(opts.json, opts.out ?? file, edited, `updated member ${opts.id}: ${Object.keys(update).join(', ')}`)
    })

  roster.command('unrevoke')
    .description('lift a revocation; lifting one of a node key or a credential needs --force (such keys are usually compromised: issue a new credential for a new key instead)')
    .argument('<file>', 'roster file')
    .addOption(new Option('--member <id>', 'admit the member\'s nodes again').conflicts(['peer', 'credential']))
    .addOption(new Option('--peer <peerId>', 'admit a node key again').argParser(peerId).conflicts(['member', 'credential']))
    .addOption(new Option('--credential <fingerprint>', 'admit one credential again').conflicts(['member', 'peer']))
    .option('--force', 'lift a revocation of a node key or credential')
    .option('--out <file>', 'write the edited epoch to this file, leaving FILE as it was')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { member?: string, peer?: string, credential?: string, force?: boolean, out?: string, json?: boolean }) => {
      const revocation = revocationOf(opts)
      if (!('member' in revocation) && opts.force !== true) {
        throw new UsageError(`roster unrevoke: ${describeRevocation(revocation)} was revoked because its key or credential was not to be trusted, and lifting that revocation trusts it again`,
          'issue a new credential for a new node key instead; if you are sure the key is safe, add --force')
      }
      const edited = await editRoster(file, r => unrevoke(r, revocation), opts.out)
      const warning = 'member' in revocation && !edited.members.has(revocation.member) ? ' (the roster does not list it: add it with fedgate roster add-member to admit it)' : ''
      printEdit(opts.json, opts.out ?? file, edited, `lifted the revocation of ${describeRevocation(revocation)}${warning}`)
    })
}

interface PolicyOptions {
  accepts: Array<[string, string[]]>
  protocol: Array<[string, string[]]>
  removeProtocol?: string[]
  credentialMaxTtl?: string
  clockSkew?: string
  limit: Array<[string, string]>
  out?: string
  json?: boolean
}

interface PolicyChange {
  key: string
  /** The new value of policy[key], from its current value. */
  value: (current: unknown) => unknown
  describe: string
}

/** The policy edits the options ask for, one per policy field. The roster checks the values. */
function policyChanges (opts: PolicyOptions): PolicyChange[] {
  const changes: PolicyChange[] = []
  if (opts.accepts.length > 0) {
    changes.push({
      key: 'accepts',
      value: current => ({ ...asRecord(current), ...Object.fromEntries(opts.accepts) }),
      describe: opts.accepts.map(([role, roles]) => `${role} accepts ${roles.join(',')}`).join(', ')
    })
  }
  const removed = opts.removeProtocol ?? []
  if (opts.protocol.length > 0 || removed.length > 0) {
    changes.push({
      key: 'protocols',
      value: current => {
        const protocols: Record<string, unknown> = { ...asRecord(current), ...Object.fromEntries(opts.protocol) }
        for (const id of removed) {
          if (!(id in protocols)) throw new UsageError(`--remove-protocol ${id}: the policy does not list it`, 'fedgate roster show FILE lists the protocols; the file was not written')
          delete protocols[id]
        }
        return protocols
      },
      describe: [...opts.protocol.map(([id, roles]) => `${id} for ${roles.join(',')}`), ...removed.map(id => `${id} denied`)].join(', ')
    })
  }
  if (opts.credentialMaxTtl !== undefined) {
    const ttl = opts.credentialMaxTtl
    changes.push({ key: 'credentialMaxTtl', value: () => ttl, describe: `credentialMaxTtl ${ttl}` })
  }
  if (opts.clockSkew !== undefined) {
    const skew = opts.clockSkew
    changes.push({ key: 'clockSkew', value: () => skew, describe: `clockSkew ${skew}` })
  }
  if (opts.limit.length > 0) {
    changes.push({
      key: 'limits',
      value: current => ({ ...asRecord(current), ...Object.fromEntries(opts.limit.map(([name, v]) => [name, DURATION_LIMITS.has(name) ? v : Number(v)])) }),
      describe: opts.limit.map(([name, v]) => `${name} ${v}`).join(', ')
    })
  }
  return changes
}

function asRecord (value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : {}
}

/** `validator=validator,relayer` → ['validator', ['validator', 'relayer']], collected. */
function keyedRoles (value: string, previous: Array<[string, string[]]>): Array<[string, string[]]> {
  const [name, roles] = keyedValue(value, [])[0] ?? ['', '']
  return [...previous, [name, roleList(roles)]]
}

/** `name=value`, collected. */
function keyedValue (value: string, previous: Array<[string, string]>): Array<[string, string]> {
  const at = value.indexOf('=')
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError('expected NAME=VALUE')
  return [...previous, [value.slice(0, at), value.slice(at + 1)]]
}
