/**
 * What the light-client demo page and its server exchange: the page reads `DemoConfig` from
 * CONFIG_PATH, asks CREDENTIAL_PATH for a credential for the key it made, and posts its
 * `PageReport` to REPORT_PATH when it is done (it also shows it, and keeps it in `window.fedgateReport`).
 */
import type { ReasonCode, TrustRoot } from '../../browser/index.ts'

/** The bundles scripts/browser/build.ts writes into one folder: the browser entry, and the page that imports it. */
export const LIBRARY_FILE = 'fedgate.js'
export const PAGE_FILE = 'demo-page.js'

export const CONFIG_PATH = '/config.json'
export const CREDENTIAL_PATH = '/credential'
export const REPORT_PATH = '/report'
/** Largest body the server reads from the page. */
export const MAX_BODY_BYTES = 64 * 1024

/** A node the page dials, and what fedgate should decide about it. */
export interface DemoTarget {
  readonly name: string
  readonly description: string
  readonly addr: string
  readonly expect: 'admitted' | 'refused'
}

export interface DemoConfig {
  readonly federation: string
  /** The member whose credential the page gets, and its role. */
  readonly member: string
  readonly role: string
  /** Signed roster epochs, oldest first, starting at `trustRoot`. */
  readonly epochs: readonly string[]
  readonly trustRoot: TrustRoot
  /** The protocol the page requests on an admitted full node. */
  readonly protocol: string
  readonly targets: readonly DemoTarget[]
}

/** POST CREDENTIAL_PATH body. */
export interface CredentialRequest {
  readonly peerId: string
}

/** What the page decided about one target. */
export interface TargetResult {
  readonly name: string
  readonly expect: 'admitted' | 'refused'
  readonly outcome: 'admitted' | 'refused' | 'error'
  /** The admitted full node's member and roles, as the page verified them. */
  readonly memberId?: string
  readonly roles?: readonly string[]
  /** The reply to the request on the allowed protocol: how the full node saw this browser. */
  readonly reply?: string
  /** The refusal's reason code, and who decided it: this browser (`local`) or the node (`remote`). */
  readonly code?: ReasonCode
  readonly by?: 'local' | 'remote'
  readonly error?: string
  /** From the dial to the verdict. */
  readonly ms: number
}

/** Milliseconds since the page's navigation started, at each step. */
export interface PageTimings {
  /** The page script started (fedgate.js loaded and evaluated). */
  readonly scriptMs: number
  readonly keyMs: number
  readonly credentialMs: number
  /** The light client's libp2p node started. */
  readonly clientMs: number
  /** The first full node admitted: both credentials verified, both roles accepted. */
  readonly authenticatedMs: number | null
  /** The reply to the first request arrived. */
  readonly requestMs: number | null
}

export interface PageReport {
  readonly peerId: string
  readonly memberId: string
  readonly roles: readonly string[]
  readonly rosterEpoch: number
  readonly timings: PageTimings
  readonly targets: readonly TargetResult[]
}
