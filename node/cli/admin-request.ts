import { adminAddress, DEFAULT_ADMIN, formatHostPort } from '../daemon/index.ts'
import { CliError } from './io.ts'
import { cliErrorOf } from './node.ts'

/** One request to a node's admin endpoint; an unreachable endpoint is one clear error line. */
export async function request (admin: string, path: string, init: { method: 'GET' | 'POST', body?: string, token?: string, timeoutMs: number }): Promise<{ status: number, doc: object }> {
  let address
  try {
    address = adminAddress(admin, `--admin ${admin}`, true)
  } catch (err) {
    throw cliErrorOf(err)
  }
  const url = `http://${formatHostPort(address)}${path}`
  let response: Response
  try {
    response = await fetch(url, {
      method: init.method,
      signal: AbortSignal.timeout(init.timeoutMs),
      ...(init.body === undefined ? {} : { body: init.body, headers: { 'content-type': 'application/json', ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }) } })
    })
  } catch (err) {
    throw new CliError(`admin endpoint ${admin}: unreachable (${networkCode(err)})`, {
      fix: `check that the node runs (fedgate node start) and pass the admin address from its config with --admin HOST:PORT (default ${DEFAULT_ADMIN})`
    })
  }
  const text = await response.text()
  try {
    const doc: unknown = JSON.parse(text)
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) return { status: response.status, doc }
  } catch {
    // Not JSON: reported below.
  }
  throw new CliError(`admin endpoint ${admin}: ${path} answered HTTP ${response.status} without a JSON document`, { fix: 'check that --admin points at a fedgate node' })
}

function networkCode (err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time'
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined
  return cause?.code ?? (err instanceof Error ? err.message : String(err))
}

