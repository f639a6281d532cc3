import { multiaddr } from '@multiformats/multiaddr'
import { refusalOf } from '../net/refusal.ts'
import type { Refusal } from '../types.ts'
import { admits, DemoError, echo, since, startDemoNode, startIntruder, waitFor, type DemoNode } from './cluster.ts'
import {
  BRIDGE, CONSENSUS, DEMO_PROTOCOLS, HEADERS, type DemoFederation, type DemoNodeFiles
} from './federation.ts'
import { columns, connectionTable, formatMs, MARK, shortPeerId, type Reporter } from './report.ts'
import { revokeMember } from './revocation.ts'
import { expectRefusal, node, type Attempt, type Running } from './steps.ts'
import type {
  DemoSummary, LinkSummary, NodeSummary, ProtocolSummary, RefusalSummary, SetupSummary
} from './summary.ts'

const INTRUDER = 'intruder'
const PING = new TextEncoder().encode('ping')

type ScenarioResult = Omit<DemoSummary, 'kept' | 'elapsedMs'>

/**
 * Runs the demo story on a generated federation: start every node, form the validator mesh, admit
 * the other roles, refuse the outsiders, enforce per-protocol roles, revoke a validator, and
 * tabulate who is connected. Stops every node it started, whatever happens.
 */
export async function runScenario (fed: DemoFederation, report: Reporter, setupMs: number): Promise<ScenarioResult> {
  const running: Running = { fed, report, nodes: new Map() }
  try {
    const setup = describeSetup(fed, report, setupMs)
    const nodes = await startNodes(running)
    const mesh = await formMesh(running)
    const admitted = await admitRoles(running)
    const refused = await refuseOutsiders(running)
    const protocols = await enforceProtocols(running)
    const revocation = await revokeMember(running)
    const table = tabulate(running)
    return { federation: fed.federation, setup, nodes, mesh, admitted, refused, protocols, revocation, table }
  } finally {
    await Promise.allSettled([
      ...[...running.nodes.values()].map(async n => n.node.stop()),
      running.intruder?.stop()
    ])
  }
}

function describeSetup (fed: DemoFederation, report: Reporter, ms: number): SetupSummary {
  const signedBy = fed.admins.filter(a => fed.roster.document.signatures.some(s => s.key === a.key.publicKey)).map(a => a.name)
  const protocols = Object.fromEntries(DEMO_PROTOCOLS.map(([p, roles]) => [p, [...roles]]))
  report.step(`Federation ${fed.federation} created in ${fed.dir} (${formatMs(ms)})`)
  const memberList = fed.members.map(m => `${m.memberId} (${m.roles.join(', ')})`)
  const lines = [
    ['admins', `${fed.admins.map(a => a.name).join(', ')}: any ${fed.roster.document.admins.threshold} of ${fed.admins.length} sign each roster epoch`],
    ['members', memberList.slice(0, 4).join(', ')],
    ['', memberList.slice(4).join(', ')],
    ['roster', `epoch ${fed.roster.epoch}, signed by ${signedBy.join(' + ')}`],
    ...DEMO_PROTOCOLS.map(([p, roles], i) => [i === 0 ? 'policy' : '', `${p} → ${roles.join(', ')}`]),
    ['files', `${fed.files.keys} key files (mode 0600), ${fed.files.credentials} credentials, ${fed.files.configs} node configs, roster.json`]
  ]
  for (const line of columns(lines)) report.line(line)
  return {
    dir: fed.dir,
    admins: fed.admins.length,
    threshold: fed.roster.document.admins.threshold,
    members: fed.roster.members.size,
    rosterEpoch: fed.roster.epoch,
    signedBy,
    protocols,
    keyFiles: fed.files.keys,
    credentials: fed.files.credentials,
    configs: fed.files.configs,
    ms
  }
}

async function startNodes (running: Running): Promise<NodeSummary[]> {
  const { fed, report } = running
  const all = [...fed.members, fed.expired, fed.forger]
  report.step(`Starting ${all.length} fedgate nodes from their configs, and one stock libp2p node`)
  const outcomes = await Promise.allSettled(all.map(async files => {
    const start = performance.now()
    return { node: await startDemoNode(files), ms: since(start) }
  }))
  const started = outcomes.flatMap(o => o.status === 'fulfilled' ? [o.value] : [])
  // Register what did start before failing, so that it is stopped too.
  for (const { node } of started) running.nodes.set(node.name, node)
  const failed = outcomes.find(o => o.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const intruderStart = performance.now()
  const intruder = await startIntruder()
  running.intruder = intruder
  const intruderMs = since(intruderStart)

  const summaries: NodeSummary[] = started.map(({ node, ms }) => ({
    name: node.name,
    kind: 'fedgate',
    memberId: node.files.memberId,
    roles: node.files.roles,
    peerId: node.files.peerId,
    listen: node.files.listen,
    config: node.files.config,
    admin: node.files.admin,
    startMs: ms
  }))
  summaries.push({ name: INTRUDER, kind: 'stock-libp2p', memberId: null, roles: [], peerId: intruder.peerId.toString(), listen: null, config: null, admin: null, startMs: intruderMs })
  const rows = summaries.map(s => [
    s.name,
    s.kind === 'fedgate' ? `${s.roles.join(', ')}${s.name === fed.expired.name ? ' (expired credential)' : s.name === fed.forger.name ? ' (forged credential)' : ''}` : 'stock libp2p: tcp + noise + yamux',
    shortPeerId(s.peerId),
    s.listen ?? '(dials only)',
    formatMs(s.startMs)
  ])
  for (const line of columns(rows)) report.line(line)
  return summaries
}

/** Dials `to` from `from` and waits until each lists the other as admitted. */
async function link (from: DemoNode, to: DemoNode): Promise<LinkSummary> {
  const start = performance.now()
  try {
    await from.node.dial(to.files.addr)
  } catch (err) {
    const refusal = refusalOf(err)
    throw new DemoError(`${from.name} → ${to.name} was refused (${refusal?.code ?? (err instanceof Error ? err.name : String(err))}); fedgate should have admitted it`)
  }
  await waitFor(`${from.name} and ${to.name} to admit each other`, () => admits(from, to.files.peerId) && admits(to, from.files.peerId))
  const ms = since(start)
  const roles = to.node.peers().find(p => p.peerId === from.files.peerId)?.roles ?? []
  return { from: from.name, to: to.name, roles: [...roles], ms }
}

async function formMesh (running: Running): Promise<DemoSummary['mesh']> {
  const validators = running.fed.members.filter(m => m.roles.includes('validator'))
  const pairs = validators.flatMap(v => v.dial.map(d => [v.name, d] as const))
  running.report.step(`Validator mesh: ${validators.length} validators dial each other (${pairs.length} connections)`)
  const connections = await Promise.all(pairs.map(async ([from, to]) => link(node(running, from), node(running, to))))
  const rows = connections.map(c => [MARK.ok, `${c.from} → ${c.to}`, `admitted as ${c.roles.join(', ')} by ${c.to}, and ${c.to} by ${c.from}`, formatMs(c.ms)])
  for (const line of columns(rows)) running.report.line(line)
  const complete = validators.every(v => validators.every(o => o === v || admits(node(running, v.name), o.peerId)))
  if (!complete) throw new DemoError('the validator mesh is incomplete')
  running.report.line(`${connections.length} connections: every validator holds the other ${validators.length - 1}`)
  return { validators: validators.map(v => v.name), connections }
}

async function admitRoles (running: Running): Promise<LinkSummary[]> {
  const others = running.fed.members.filter(m => !m.roles.includes('validator'))
  const pairs = others.flatMap(m => m.dial.map(d => [m.name, d] as const))
  running.report.step('Other roles, each admitted in its role (roster policy.accepts)')
  // One at a time: the light client dials the full node, whose own dials are part of the same step.
  const links: LinkSummary[] = []
  for (const [from, to] of pairs) {
    const l = await link(node(running, from), node(running, to))
    running.report.line(`${MARK.ok}  ${`${l.from} → ${l.to}`.padEnd(18)}  ${`admitted as ${l.roles.join(', ')} by ${l.to}`.padEnd(36)}  ${formatMs(l.ms)}`)
    links.push(l)
  }
  return links
}

async function refuseOutsiders (running: Running): Promise<RefusalSummary[]> {
  const { fed, report } = running
  const target = node(running, 'val-1')
  const intruder = running.intruder
  if (intruder === undefined) throw new DemoError('the intruder is not running')
  const forger = node(running, fed.forger.name)
  const expired = node(running, fed.expired.name)
  report.step(`Outsiders dial ${target.name} and are refused`)
  const attempts: Attempt[] = [
    { name: INTRUDER, peerId: intruder.peerId.toString(), what: 'stock libp2p node, no fedgate', dial: async () => intruder.dial(multiaddr(target.files.addr)) },
    { name: forger.name, peerId: forger.files.peerId, what: `credential for ${fed.forger.memberId} signed by a member key the roster does not list`, dial: async () => forger.node.dial(target.files.addr) },
    { name: expired.name, peerId: expired.files.peerId, what: `node of ${fed.expired.memberId} whose credential expired ${formatAgo(fed.expired)}`, dial: async () => expired.node.dial(target.files.addr) }
  ]
  const results: RefusalSummary[] = []
  for (const attempt of attempts) {
    const r = await expectRefusal(target, attempt)
    results.push(r)
    report.line(`${MARK.refused} ${r.name} → ${r.target}: ${r.what}`)
    if (r.code === null) {
      report.line(`    refused before any fedgate byte: ${r.dialError ?? 'no error'}: ${r.dialMessage ?? ''}`)
      report.line(`    no reason code (fedgate never ran); ${r.target} opened ${r.targetConnections} connections   ${formatMs(r.ms)}`)
    } else {
      report.line(`    refused: ${r.code} (decided by ${r.by === 'remote' ? r.target : r.name}); ${r.target} recorded ${r.targetCode ?? 'nothing'}, opened ${r.targetConnections} connections   ${formatMs(r.ms)}`)
    }
  }
  const admittedOutsider = attempts.some(a => admits(target, a.peerId))
  if (admittedOutsider) throw new DemoError(`${target.name} lists an outsider among its peers`)
  return results
}

function formatAgo (files: DemoNodeFiles): string {
  const hours = Math.round((Date.now() - files.credential.notAfterMs) / 3_600_000)
  return `${hours} h ago`
}

/** Opens `protocol` from `from` to `to` on their admitted connection and reports what `to` did with it. */
async function openProtocol (from: DemoNode, to: DemoNode, protocol: string): Promise<ProtocolSummary> {
  const callsBefore = to.handled.get(protocol) ?? 0
  const refusalsBefore = to.node.refusals().length
  const resetOf = (): Refusal | undefined => to.node.refusals().slice(refusalsBefore)
    .find(r => r.stage === 'stream' && r.protocol === protocol && r.peerId === from.files.peerId)
  const start = performance.now()
  let reached: boolean
  try {
    const reply = await echo(from.node, to.files.addr, protocol, PING)
    reached = Buffer.from(reply).equals(Buffer.from(PING))
  } catch {
    reached = false
  }
  if (!reached) await waitFor(`${to.name} to record the reset of ${protocol}`, () => resetOf() !== undefined)
  const ms = since(start)
  return {
    from: from.name,
    to: to.name,
    protocol,
    outcome: reached ? 'reached' : 'reset',
    code: resetOf()?.code ?? null,
    handlerCalls: (to.handled.get(protocol) ?? 0) - callsBefore,
    connectionKept: admits(to, from.files.peerId),
    ms
  }
}

async function enforceProtocols (running: Running): Promise<ProtocolSummary[]> {
  running.report.step('Per-protocol roles on admitted connections (roster policy.protocols, default deny)')
  const relayer = node(running, 'relayer-1')
  const validator = node(running, 'val-1')
  const results = [
    await openProtocol(relayer, validator, BRIDGE),
    await openProtocol(relayer, validator, CONSENSUS),
    await openProtocol(node(running, 'light-1'), node(running, 'full-1'), HEADERS)
  ]
  const rows = results.map(r => [
    r.outcome === 'reached' ? MARK.ok : MARK.refused,
    `${r.from} → ${r.to}`,
    r.protocol,
    r.outcome === 'reached'
      ? `reached the handler (${r.handlerCalls} call), echo round trip`
      : `stream reset by ${r.to}: ${r.code ?? 'no code'}; handler calls: ${r.handlerCalls}; connection ${r.connectionKept ? 'kept' : 'closed'}`,
    formatMs(r.ms)
  ])
  for (const line of columns(rows)) running.report.line(line)
  const [bridge, consensus] = results
  if (bridge?.outcome !== 'reached') throw new DemoError('the relayer did not reach the bridge protocol it is allowed on')
  if (consensus?.outcome !== 'reset' || consensus.handlerCalls !== 0) throw new DemoError('the relayer reached the consensus protocol it is not allowed on')
  return results
}

function tabulate (running: Running): DemoSummary['table'] {
  const nodes = [...running.nodes.values()]
  const intruder = running.intruder
  const names = [...nodes.map(n => n.name), INTRUDER]
  const peerIds = [...nodes.map(n => n.files.peerId), intruder?.peerId.toString() ?? '']
  const views: Array<Set<string>> = [
    ...nodes.map(n => new Set(n.node.peers().map(p => p.peerId))),
    new Set(intruder?.getConnections().map(c => c.remotePeer.toString()) ?? [])
  ]
  const connected = views.map(view => peerIds.map(id => view.has(id)))
  running.report.step('Connections now (row holds an admitted connection to column)')
  for (const line of connectionTable(names, connected)) running.report.line(line)
  const links = connected.flat().filter(Boolean).length / 2
  running.report.line(`${MARK.link} connection   ${MARK.none} none   (${links} connections)`)
  return { names, connected }
}
