import { multiaddr } from '@multiformats/multiaddr'
import { peerIdKeyType } from '../../../membership/index.ts'
import { describe, formatHostPort, parseHostPort, stringValue, type HostPort } from '../config-values.ts'
import { ConfigError } from '../errors.ts'

export const TUNNEL_MODES = ['tcp', 'http'] as const
export type TunnelMode = typeof TUNNEL_MODES[number]

/** A service name: it becomes part of the protocol id `/fedgate/tcp/<name>/1.0.0`. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** More sidecar entries than this is a config mistake, not a deployment. */
const MAX_ENTRIES = 256

/** A local TCP service this node serves to members as `/fedgate/tcp/<name>/1.0.0`. */
export interface ExposeConfig {
  readonly name: string
  /** Where each tunnel's TCP connection goes. */
  readonly target: HostPort
  /** `http`: an HTTP proxy that names the caller in `Fedgate-*` headers; `tcp`: the bytes as they are. */
  readonly mode: TunnelMode
  /** Start each TCP connection to the target with a PROXY protocol v2 header naming the peer's address. */
  readonly proxyProtocol: boolean
}

/** Whose service a forward reaches: a roster member, one node by PeerId, or one node by multiaddr. */
export type ForwardPeer = { readonly member: string } | { readonly peer: string } | { readonly addr: string }

/** A local TCP listener whose every connection is carried to a member's exposed service. */
export interface ForwardConfig {
  readonly name: string
  readonly listen: HostPort
  readonly to: ForwardPeer
}

const EXPOSE_FIELDS = ['name', 'target', 'mode', 'proxyProtocol'] as const
const FORWARD_FIELDS = ['name', 'listen', 'member', 'peer'] as const
const EXPOSE_EXAMPLE = '{ "name": "cometbft-p2p", "target": "127.0.0.1:26656" }'
const FORWARD_EXAMPLE = '{ "name": "cometbft-p2p", "listen": "127.0.0.1:26001", "member": "val-2" }'

/** Validates the config file's `expose` list. */
export function parseExposeList (value: unknown, where: string): ExposeConfig[] {
  const list = entries(value, where, EXPOSE_EXAMPLE).map((v, i) => parseExpose(v, `${where}[${i}]`))
  unique(list.map(e => e.name), i => `${where}[${i}].name`, 'expose each service name once')
  return list
}

/** Validates the config file's `forward` list. */
export function parseForwardList (value: unknown, where: string): ForwardConfig[] {
  const list = entries(value, where, FORWARD_EXAMPLE).map((v, i) => parseForward(v, `${where}[${i}]`))
  uniqueListeners(list, i => `${where}[${i}].listen`)
  return list
}

/** `--expose NAME=HOST:PORT` (tcp mode, no PROXY header; the config file sets the rest). */
export function parseExposeFlag (value: string): ExposeConfig {
  const where = `--expose ${value}`
  const [name, target] = splitOnce(value, '=')
  if (name === undefined || target === undefined) throw new ConfigError(where, 'expected NAME=HOST:PORT', 'write e.g. --expose cometbft-p2p=127.0.0.1:26656', true)
  return { name: serviceName(name, where, true), target: targetAddress(target, where, true), mode: 'tcp', proxyProtocol: false }
}

/** `--forward NAME=HOST:PORT@MEMBER` (or `@PEERID`, or `@MULTIADDR`). */
export function parseForwardFlag (value: string): ForwardConfig {
  const where = `--forward ${value}`
  const [name, rest] = splitOnce(value, '=')
  const [listen, to] = rest === undefined ? [] : splitOnce(rest, '@')
  if (name === undefined || listen === undefined || to === undefined) {
    throw new ConfigError(where, 'expected NAME=HOST:PORT@MEMBER', 'write e.g. --forward cometbft-p2p=127.0.0.1:26001@val-2 (or @PEERID, or @MULTIADDR)', true)
  }
  return {
    name: serviceName(name, where, true),
    listen: parseHostPort(listen, where, '127.0.0.1:26001', true),
    to: forwardPeer(to, where, true)
  }
}

/** Checks the flags' lists as the file's are checked. */
export function checkFlagLists (expose: readonly ExposeConfig[], forward: readonly ForwardConfig[]): void {
  unique(expose.map(e => e.name), i => `--expose ${expose[i]?.name ?? ''}`, 'expose each service name once', true)
  uniqueListeners(forward, i => `--forward ${forward[i]?.name ?? ''}`, true)
}

/** The peer a forward names, in words: `member val-2`, `peer 12D3…`, `/ip4/…`. */
export function describeForwardPeer (to: ForwardPeer): string {
  if ('member' in to) return `member ${to.member}`
  if ('peer' in to) return `peer ${to.peer}`
  return to.addr
}

function parseExpose (value: unknown, where: string): ExposeConfig {
  const doc = object(value, where, EXPOSE_FIELDS, EXPOSE_EXAMPLE)
  if (doc.name === undefined) throw new ConfigError(`${where}.name`, 'missing field', `add "name": the service name peers forward to, e.g. ${EXPOSE_EXAMPLE}`)
  if (doc.target === undefined) throw new ConfigError(`${where}.target`, 'missing field', `add "target": the HOST:PORT of the local service, e.g. ${EXPOSE_EXAMPLE}`)
  const name = serviceName(stringValue(doc.name, `${where}.name`, 'a service name such as cometbft-p2p'), `${where}.name`)
  const target = targetAddress(stringValue(doc.target, `${where}.target`, 'HOST:PORT such as 127.0.0.1:26656'), `${where}.target`)
  let mode: TunnelMode = 'tcp'
  if (doc.mode !== undefined) {
    const found = TUNNEL_MODES.find(m => m === doc.mode)
    if (found === undefined) throw new ConfigError(`${where}.mode`, `expected "tcp" or "http", got ${describe(doc.mode)}`, 'use "tcp" (the default: bytes as they are) or "http" (an RPC endpoint that reads the Fedgate-Member and Fedgate-Roles headers)')
    mode = found
  }
  let proxyProtocol = false
  if (doc.proxyProtocol !== undefined) {
    if (typeof doc.proxyProtocol !== 'boolean') throw new ConfigError(`${where}.proxyProtocol`, `expected true or false, got ${describe(doc.proxyProtocol)}`, 'write true to send a PROXY protocol v2 header to the target, or leave it out')
    if (doc.proxyProtocol && mode === 'http') throw new ConfigError(`${where}.proxyProtocol`, 'a PROXY header applies to tcp mode only', 'leave proxyProtocol out in http mode: the Fedgate-Member and Fedgate-Roles headers name the caller')
    proxyProtocol = doc.proxyProtocol
  }
  return { name, target, mode, proxyProtocol }
}

function parseForward (value: unknown, where: string): ForwardConfig {
  const doc = object(value, where, FORWARD_FIELDS, FORWARD_EXAMPLE)
  if (doc.name === undefined) throw new ConfigError(`${where}.name`, 'missing field', `add "name": the service name the member exposes, e.g. ${FORWARD_EXAMPLE}`)
  if (doc.listen === undefined) throw new ConfigError(`${where}.listen`, 'missing field', `add "listen": the local HOST:PORT clients connect to, e.g. ${FORWARD_EXAMPLE}`)
  const name = serviceName(stringValue(doc.name, `${where}.name`, 'the service name the member exposes'), `${where}.name`)
  const listen = parseHostPort(stringValue(doc.listen, `${where}.listen`, 'HOST:PORT such as 127.0.0.1:26001'), `${where}.listen`, '127.0.0.1:26001')
  if ((doc.member === undefined) === (doc.peer === undefined)) {
    throw new ConfigError(where, 'needs exactly one of "member" and "peer"', 'name the member whose service this reaches ("member": "val-2"), or one node ("peer": a PeerId or a multiaddr)')
  }
  const to: ForwardPeer = doc.member !== undefined
    ? { member: memberId(stringValue(doc.member, `${where}.member`, 'a member id from the roster'), `${where}.member`) }
    : forwardPeer(stringValue(doc.peer, `${where}.peer`, 'a PeerId or a multiaddr such as /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW...'), `${where}.peer`, false, true)
  return { name, listen, to }
}

function entries (value: unknown, where: string, example: string): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(where, `expected an array, got ${describe(value)}`, `write e.g. [${example}]`)
  if (value.length > MAX_ENTRIES) throw new ConfigError(where, `at most ${MAX_ENTRIES} entries allowed, got ${value.length}`, 'list fewer entries')
  return value
}

function object (value: unknown, where: string, fields: readonly string[], example: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(where, `expected an object, got ${describe(value)}`, `write e.g. ${example}`)
  const doc = value as Record<string, unknown>
  for (const name of Object.keys(doc)) {
    if (!fields.includes(name)) throw new ConfigError(`${where}.${name}`, 'unknown field', `remove it; the fields are ${fields.join(', ')}`)
  }
  return doc
}

function serviceName (value: string, where: string, usage = false): string {
  if (!SERVICE_NAME.test(value)) throw new ConfigError(where, `${JSON.stringify(value)} is not a service name`, 'use letters, digits, dot, dash and underscore (at most 64), starting with a letter or digit, e.g. cometbft-p2p', usage)
  return value
}

function memberId (value: string, where: string): string {
  if (!MEMBER_ID.test(value)) throw new ConfigError(where, `${JSON.stringify(value)} is not a member id`, 'give the id the roster lists for the member, e.g. val-2')
  return value
}

function targetAddress (value: string, where: string, usage = false): HostPort {
  const target = parseHostPort(value, where, '127.0.0.1:26656', usage)
  if (target.port === 0) throw new ConfigError(where, 'a target needs a real port, not 0', 'give the port the local service listens on', usage)
  return target
}

/** A PeerId or a TCP multiaddr; with `usage`, a member id is accepted too (the flag form). */
function forwardPeer (value: string, where: string, usage: boolean, peerOnly = false): ForwardPeer {
  if (value.startsWith('/')) {
    let names: string[]
    try {
      names = multiaddr(value).getComponents().map(c => c.name)
    } catch (err) {
      throw new ConfigError(where, `invalid multiaddr ${JSON.stringify(value)} (${err instanceof Error ? err.message : String(err)})`, 'write it like /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW...', usage)
    }
    if (!['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(names[0] ?? '') || names[1] !== 'tcp') {
      throw new ConfigError(where, `${JSON.stringify(value)} is not a TCP address`, 'write it like /ip4/10.0.0.2/tcp/4001/p2p/12D3KooW...', usage)
    }
    return { addr: value }
  }
  if (peerIdKeyType(value) !== undefined) return { peer: value }
  if (peerOnly || !MEMBER_ID.test(value)) {
    throw new ConfigError(where, `${JSON.stringify(value)} is neither a PeerId nor a multiaddr`, `give the node's PeerId (12D3KooW...) or its multiaddr${peerOnly ? ', or use "member" for a member id' : ', or a member id'}`, usage)
  }
  return { member: value }
}

function unique (names: readonly string[], where: (i: number) => string, fix: string, usage = false): void {
  const seen = new Set<string>()
  names.forEach((name, i) => {
    if (seen.has(name)) throw new ConfigError(where(i), `duplicate ${JSON.stringify(name)}`, fix, usage)
    seen.add(name)
  })
}

/** Two forwards may not listen on the same address (port 0 picks a fresh port each). */
function uniqueListeners (list: readonly ForwardConfig[], where: (i: number) => string, usage = false): void {
  unique(list.map((f, i) => f.listen.port === 0 ? `:0#${i}` : formatHostPort(f.listen)), where, 'give each forward its own listen address', usage)
}

function splitOnce (value: string, separator: string): [string | undefined, string | undefined] {
  const at = value.indexOf(separator)
  return at <= 0 || at === value.length - 1 ? [undefined, undefined] : [value.slice(0, at), value.slice(at + 1)]
}
