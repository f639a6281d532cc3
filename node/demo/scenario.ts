import type { Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { revoke, signRoster, type ReasonCode } from '../../membership/index.ts'
import { refusalOf } from '../net/refusal.ts'
import type { Disconnect } from '../types.ts'
import type { Refusal } from '../types.ts'
import { admits, DemoError, echo, since, startDemoNode, startIntruder, waitFor, type DemoNode } from './cluster.ts'
import {
  ADMIN_THRESHOLD, BRIDGE, CONSENSUS, DEMO_PROTOCOLS, HEADERS, saveRoster, writeNodeRosters, type DemoFederation, type DemoNodeFiles
} from './federation.ts'
import { columns, connectionTable, formatMs, MARK, shortPeerId, type Reporter } from './report.ts'
import type {
  DemoSummary, DropSummary, LinkSummary, NodeSummary, ProtocolSummary, RefusalSummary, RevocationSummary, SetupSummary
} from './summary.ts'

/** The member the demo revokes, and the admins who sign its revocation (any two of the three). */
const REVOKED_MEMBER = 'val-4'
const REVOCATION_SIGNERS = ['admin-1', 'admin-3'] as const
const INTRUDER = 'intruder'
const PING = new TextEncoder().encode('ping')

type ScenarioResult = Omit<DemoSummary, 'kept' | 'elapsedMs'>

interface Running {
  readonly fed: DemoFederation
  readonly report: Reporter
  /** Every fedgate node, by name. */
  readonly nodes: Map<string, DemoNode>
  intruder?: Libp2p
}

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

function node (running: Running, name: string): DemoNode {
  const found = running.nodes.get(name)
  if (found === undefined) throw new DemoError(`no running node ${name}`)
  return found
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

interface Attempt {
  readonly name: string
  readonly peerId: string
  readonly what: string
  readonly dial: () => Promise<unknown>
}

/** Dials from an outsider and expects a refusal; reads the code from the dial error and from the target. */
async function expectRefusal (target: DemoNode, attempt: Attempt): Promise<RefusalSummary> {
  const refusalsBefore = target.node.refusals().length
  const openedBefore = target.opened.filter(p => p === attempt.peerId).length
  const start = performance.now()
  let error: unknown
  try {
    await attempt.dial()
  } catch (err) {
    error = err
  }
  const recordedOf = (): Refusal | undefined => target.node.refusals().slice(refusalsBefore).find(r => r.peerId === undefined || r.peerId === attempt.peerId)
  // A stock libp2p dialer may finish its side of the upgrade before the target refuses it, so the
  // target's own record decides whether the outsider was refused.
  if (error === undefined) {
    await waitFor(`${target.name} to refuse ${attempt.name}`, () => recordedOf() !== undefined)
      .catch(() => { throw new DemoError(`${target.name} admitted ${attempt.name} (${attempt.what}); fedgate should have refused it`) })
  }
  const ms = since(start)
  const recorded = recordedOf()
  const refusal = refusalOf(error) ?? (recorded === undefined ? undefined : { code: recorded.code, by: 'remote' as const })
  return {
    name: attempt.name,
    target: target.name,
    what: attempt.what,
    dialError: error === undefined ? null : error instanceof Error ? error.name : typeof error,
    dialMessage: error === undefined ? null : error instanceof Error ? error.message : String(error),
    code: refusal?.code ?? null,
    by: refusal?.by ?? null,
    targetCode: recorded?.code ?? null,
    targetConnections: target.opened.filter(p => p === attempt.peerId).length - openedBefore,
    ms
  }
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

async function revokeMember (running: Running): Promise<RevocationSummary> {
  const { fed, report } = running
  const revoked = node(running, REVOKED_MEMBER)
  const federationNodes = [...fed.members, fed.expired].map(f => node(running, f.name))
  const signers = fed.admins.filter(a => (REVOCATION_SIGNERS as readonly string[]).includes(a.name))
  let next = revoke(fed.roster, { member: REVOKED_MEMBER })
  for (const admin of signers) next = signRoster(next, admin.key)
  await saveRoster(fed, next)
  report.step(`Revoking ${REVOKED_MEMBER}: roster epoch ${next.epoch} signed by ${signers.map(a => a.name).join(' + ')} (${ADMIN_THRESHOLD} of ${fed.admins.length})`)

  const holders = federationNodes.filter(n => n !== revoked && admits(n, revoked.files.peerId))
  const nameOf = (peerId: string): string => federationNodes.find(n => n.files.peerId === peerId)?.name ?? peerId
  const drops: Array<DropSummary & { readonly at: number }> = []
  const revokedSide: Array<DropSummary & { readonly at: number }> = []
  const listeners = federationNodes.map(n => {
    const listener = ({ detail: event }: CustomEvent<Disconnect>): void => {
      const at = performance.now()
      if (n === revoked) revokedSide.push({ node: n.name, peer: nameOf(event.peerId), code: event.code, ms: 0, at })
      else if (event.peerId === revoked.files.peerId) drops.push({ node: n.name, peer: revoked.name, code: event.code, ms: 0, at })
    }
    n.node.gate.addEventListener('disconnected', listener)
    return () => { n.node.gate.removeEventListener('disconnected', listener) }
  })
  const start = performance.now()
  try {
    await writeNodeRosters(federationNodes.map(n => n.files), next)
    const writeMs = since(start)
    report.line(`epoch ${next.epoch} written to ${federationNodes.length} node roster files in ${formatMs(writeMs)}; ${holders.length} nodes hold a connection to ${revoked.name}`)
    await waitFor(`every node to drop ${revoked.name}`, () => holders.every(h => !admits(h, revoked.files.peerId)) && revoked.node.peers().length === 0)
    await waitFor(`every node to run epoch ${next.epoch}`, () => federationNodes.every(n => n.node.roster.epoch === next.epoch))
  } finally {
    for (const off of listeners) off()
  }
  const timed = (d: DropSummary & { readonly at: number }): DropSummary => ({ node: d.node, peer: d.peer, code: d.code, ms: Math.round((d.at - start) * 10) / 10 })
  const dropList = drops.map(timed).sort((a, b) => a.ms - b.ms)
  const sideList = revokedSide.map(timed).sort((a, b) => a.ms - b.ms)
  const latencyMs = Math.max(0, ...dropList.map(d => d.ms), ...sideList.map(d => d.ms))
  const rows = dropList.map(d => [MARK.refused, `${d.node} dropped ${d.peer}:`, d.code, `${formatMs(d.ms)} after the write`])
  for (const line of columns(rows)) report.line(line)
  const told = sideList.filter(d => d.code === 'revoked').length
  report.line(`${revoked.name} was told "revoked" by ${told} of ${sideList.length} peers as they closed; every node runs epoch ${next.epoch}`)
  report.line(`roster file write → last connection closed: ${formatMs(latencyMs)}`)

  const target = node(running, 'val-1')
  const redial = await expectRefusal(target, { name: revoked.name, peerId: revoked.files.peerId, what: 'revoked validator', dial: async () => revoked.node.dial(target.files.addr) })
  report.line(`${MARK.refused} ${revoked.name} dials ${target.name} again: refused ${redial.code ?? redial.dialError}; ${target.name} recorded ${redial.targetCode ?? 'nothing'}`)

  if (dropList.length !== holders.length || dropList.some(d => d.code !== 'revoked')) {
    throw new DemoError(`not every node dropped ${revoked.name} as revoked: ${JSON.stringify(dropList)}`)
  }
  return {
    member: REVOKED_MEMBER,
    epoch: next.epoch,
    previousEpoch: fed.roster.epoch,
    signedBy: signers.map(a => a.name),
    threshold: ADMIN_THRESHOLD,
    rosterFiles: federationNodes.length,
    acceptedBy: federationNodes.filter(n => n.node.roster.epoch === next.epoch).map(n => n.name),
    drops: dropList,
    revokedSide: sideList,
    latencyMs,
    redial: { from: revoked.name, to: target.name, code: redial.code, targetCode: redial.targetCode }
  }
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
