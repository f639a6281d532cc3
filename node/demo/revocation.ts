import { revoke, signRoster } from '../../membership/index.ts'
import type { Disconnect } from '../types.ts'
import { admits, DemoError, since, waitFor } from './cluster.ts'
import { ADMIN_THRESHOLD, saveRoster, writeNodeRosters } from './federation.ts'
import { columns, formatMs, MARK } from './report.ts'
import { expectRefusal, node, type Running } from './steps.ts'
import type { DropSummary, RevocationSummary } from './summary.ts'

/** The member the demo revokes, and the admins who sign its revocation (any two of the three). */
const REVOKED_MEMBER = 'val-4'
const REVOCATION_SIGNERS = ['admin-1', 'admin-3'] as const

/**
 * Revokes a validator by a roster epoch signed k-of-n, written to every node's roster file, and
 * times each node dropping it; then the revoked validator dials again and is refused.
 */
export async function revokeMember (running: Running): Promise<RevocationSummary> {
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
