/**
 * The light-client demo page's script (bundled by scripts/browser/build.ts; it imports fedgate.js
 * beside it). It makes a node key, gets a credential for it from the demo server, starts a light
 * client on the roster the server hands out, dials each target, and shows and reports the verdicts.
 */
import {
  Credential, createLightClient, generateNodeKey, MembershipRefusedError, utf8, fromUtf8, type LightClient
} from '../../browser/index.ts'
import {
  CONFIG_PATH, CREDENTIAL_PATH, REPORT_PATH,
  type CredentialRequest, type DemoConfig, type DemoTarget, type PageReport, type PageTimings, type TargetResult
} from './contract.ts'

const DIAL_TIMEOUT_MS = 10_000

declare global {
  interface Window {
    /** The finished report, for whoever drives the page (the demo's browser test and benchmark). */
    fedgateReport?: PageReport
  }
}

function element (id: string): HTMLElement {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`the page has no #${id}`)
  return found
}

function cell (row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell()
  td.textContent = text
  if (className !== undefined) td.className = className
  return td
}

async function fetchJson<T> (path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
  return await response.json() as T
}

/** Dials `target`, and on an admitted node runs one request; the result, and when it was admitted and answered. */
async function visit (client: LightClient, target: DemoTarget, config: DemoConfig): Promise<{ result: TargetResult, admittedAt?: number, repliedAt?: number }> {
  const started = performance.now()
  const base = { name: target.name, expect: target.expect }
  const ms = (): number => Math.round((performance.now() - started) * 10) / 10
  try {
    const peer = await client.connect(target.addr, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    const admittedAt = performance.now()
    const admittedMs = ms()
    const reply = await client.request(target.addr, config.protocol, utf8(`headers 1..8 for ${config.member}`), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    const result: TargetResult = { ...base, outcome: 'admitted', memberId: peer.memberId, roles: peer.roles, reply: fromUtf8(reply), ms: admittedMs }
    return { result, admittedAt, repliedAt: performance.now() }
  } catch (err) {
    if (err instanceof MembershipRefusedError) return { result: { ...base, outcome: 'refused', code: err.code, by: err.by, ms: ms() } }
    return { result: { ...base, outcome: 'error', error: err instanceof Error ? err.message : String(err), ms: ms() } }
  }
}

function show (target: DemoTarget, result: TargetResult, protocol: string): void {
  const body = (element('targets') as HTMLTableElement).tBodies[0]
  if (body === undefined) throw new Error('the page has no #targets tbody')
  const row = body.insertRow()
  row.dataset.target = result.name
  row.dataset.outcome = result.outcome
  if (result.code !== undefined) row.dataset.code = result.code
  cell(row, target.name, 'name')
  cell(row, target.description)
  const expected = result.outcome === result.expect
  if (result.outcome === 'admitted') {
    cell(row, `✓ admitted: ${result.memberId ?? ''} [${(result.roles ?? []).join(', ')}]`, expected ? 'ok' : 'bad')
    cell(row, `${protocol} reply: ${result.reply ?? ''}`)
  } else if (result.outcome === 'refused') {
    cell(row, `✗ refused: ${result.code ?? ''}`, expected ? 'ok' : 'bad')
    cell(row, result.by === 'local' ? 'decided by this browser: the node failed its check' : 'decided by the node: this browser failed its check')
  } else {
    cell(row, '✗ error', 'bad')
    cell(row, result.error ?? '')
  }
  cell(row, `${result.ms} ms`, 'ms')
}

function showTimings (timings: PageTimings): void {
  const list = element('timings')
  const steps: Array<[string, number | null]> = [
    ['script running (fedgate.js loaded)', timings.scriptMs],
    ['node key made', timings.keyMs],
    ['credential issued', timings.credentialMs],
    ['light client started', timings.clientMs],
    ['full node authenticated', timings.authenticatedMs],
    ['first reply', timings.requestMs]
  ]
  for (const [what, at] of steps) {
    const item = document.createElement('li')
    item.textContent = `${what}: ${at === null ? '—' : `${Math.round(at)} ms`} after page load`
    list.append(item)
  }
}

async function run (scriptMs: number): Promise<PageReport> {
  const config = await fetchJson<DemoConfig>(CONFIG_PATH)
  const nodeKey = await generateNodeKey()
  const keyMs = performance.now()
  const credential = Credential.fromJSON(await fetchJson<unknown>(CREDENTIAL_PATH, { peerId: nodeKey.peerId } satisfies CredentialRequest))
  const credentialMs = performance.now()
  const client = await createLightClient({ nodeKey, credential, roster: config.epochs, trustRoot: config.trustRoot })
  const clientMs = performance.now()
  const roster = client.gate.roster
  element('self').textContent = `${credential.memberId} [${credential.roles.join(', ')}], PeerId ${client.peerId}; roster ${roster.federation} epoch ${roster.epoch} (fingerprint ${roster.fingerprint.slice(0, 16)}…); credential valid until ${credential.document.notAfter}`
  let authenticatedMs: number | null = null
  let requestMs: number | null = null
  const results: TargetResult[] = []
  for (const target of config.targets) {
    const { result, admittedAt, repliedAt } = await visit(client, target, config)
    authenticatedMs ??= admittedAt ?? null
    requestMs ??= repliedAt ?? null
    results.push(result)
    show(target, result, config.protocol)
  }
  await client.stop()
  const timings: PageTimings = { scriptMs, keyMs, credentialMs, clientMs, authenticatedMs, requestMs }
  showTimings(timings)
  return { peerId: client.peerId, memberId: credential.memberId, roles: credential.roles, rosterEpoch: roster.epoch, timings, targets: results }
}

try {
  const report = await run(performance.now())
  window.fedgateReport = report
  await fetch(REPORT_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) })
  document.body.dataset.state = report.targets.every(r => r.outcome === r.expect) ? 'passed' : 'failed'
} catch (err) {
  element('error').textContent = `The light client stopped: ${err instanceof Error ? err.message : String(err)}`
  document.body.dataset.state = 'error'
}
