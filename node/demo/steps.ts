import type { Libp2p } from '@libp2p/interface'
import { refusalOf } from '../net/refusal.ts'
import type { Refusal } from '../types.ts'
import { DemoError, since, waitFor, type DemoNode } from './cluster.ts'
import type { DemoFederation } from './federation.ts'
import type { Reporter } from './report.ts'
import type { RefusalSummary } from './summary.ts'

/** What the demo's steps share: the federation, the report, and the nodes started so far. */
export interface Running {
  readonly fed: DemoFederation
  readonly report: Reporter
  /** Every fedgate node, by name. */
  readonly nodes: Map<string, DemoNode>
  intruder?: Libp2p
}

/** The running node called `name`. */
export function node (running: Running, name: string): DemoNode {
  const found = running.nodes.get(name)
  if (found === undefined) throw new DemoError(`no running node ${name}`)
  return found
}

/** An outsider's dial that the target must refuse. */
export interface Attempt {
  readonly name: string
  readonly peerId: string
  readonly what: string
  readonly dial: () => Promise<unknown>
}

/** Dials from an outsider and expects a refusal; reads the code from the dial error and from the target. */
export async function expectRefusal (target: DemoNode, attempt: Attempt): Promise<RefusalSummary> {
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
