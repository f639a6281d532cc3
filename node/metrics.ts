import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { GateMetrics, GateViews } from './telemetry.ts'

/**
 * fedgate's own Prometheus metrics, in one registry that the admin endpoint serves together with
 * libp2p's metrics (@libp2p/prometheus-metrics registered on the same registry).
 */
export class FedgateMetrics implements GateMetrics {
  readonly registry: Registry
  readonly handshakes: Counter<'direction' | 'result' | 'reason'>
  readonly admittedPeers: Gauge<'role'>
  readonly rosterEpoch: Gauge
  readonly rosterUpdates: Counter<'result' | 'reason'>
  readonly credentialExpirySeconds: Gauge
  readonly streamResets: Counter<'reason' | 'protocol'>
  readonly disconnects: Counter<'reason'>
  readonly credentialRenewals: Counter<'direction' | 'result'>
  readonly revocationLatency: Histogram
  readonly rosterSyncPulls: Counter<'result'>
  readonly rosterAnnouncements: Counter<'direction'>
  readonly tunnelsOpen: Gauge<'service' | 'side'>
  readonly tunnels: Counter<'service' | 'side'>
  readonly tunnelRefusals: Counter<'service' | 'side' | 'reason'>
  readonly tunnelCloses: Counter<'service' | 'side' | 'reason'>
  readonly tunnelBytes: Counter<'service' | 'side' | 'direction'>
  private notAfterMs: (() => number) | undefined
  private views: GateViews | undefined

  constructor (registry: Registry = new Registry()) {
    this.registry = registry
    this.handshakes = new Counter({
      name: 'fedgate_handshakes_total',
      help: 'Membership handshakes by direction, result (admitted or refused) and reason code',
      labelNames: ['direction', 'result', 'reason'],
      registers: [registry]
    })
    this.admittedPeers = new Gauge({
      name: 'fedgate_admitted_peers',
      help: 'Admitted peer connections by peer role',
      labelNames: ['role'],
      registers: [registry]
    })
    this.rosterEpoch = new Gauge({ name: 'fedgate_roster_epoch', help: 'Epoch of the accepted roster', registers: [registry] })
    this.rosterUpdates = new Counter({
      name: 'fedgate_roster_updates_total',
      help: 'Roster epochs offered to the node, by result (accepted or refused) and reason code',
      labelNames: ['result', 'reason'],
      registers: [registry]
    })
    const notAfter = (): number | undefined => this.notAfterMs?.()
    this.credentialExpirySeconds = new Gauge({
      name: 'fedgate_credential_expiry_seconds',
      help: 'Seconds until the local credential expires',
      registers: [registry],
      collect () {
        const at = notAfter()
        if (at !== undefined) this.set(Math.round((at - Date.now()) / 1000))
      }
    })
    this.streamResets = new Counter({
      name: 'fedgate_stream_resets_total',
      help: 'Inbound streams reset before the handler, by reason code and protocol',
      labelNames: ['reason', 'protocol'],
      registers: [registry]
    })
    this.disconnects = new Counter({
      name: 'fedgate_disconnects_total',
      help: 'Admitted connections closed by fedgate, by reason code',
      labelNames: ['reason'],
      registers: [registry]
    })
    this.credentialRenewals = new Counter({
      name: 'fedgate_credential_renewals_total',
      help: 'Credential renewals pushed (outbound) or received (inbound), by result',
      labelNames: ['direction', 'result'],
      registers: [registry]
    })
    this.revocationLatency = new Histogram({
      name: 'fedgate_revocation_disconnect_seconds',
      help: 'Time from a roster epoch being accepted to each connection it revokes being closed',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry]
    })
    this.rosterSyncPulls = new Counter({
      name: 'fedgate_roster_sync_pulls_total',
      help: 'Roster epochs fetched from peers, by result: delivered (by a pull), inline (carried by the announcement as a delta), failed (stalled, cut, broke the protocol), refused (the store refused what the peer sent), ignored (a claim from a peer under backoff)',
      labelNames: ['result'],
      registers: [registry]
    })
    this.rosterAnnouncements = new Counter({
      name: 'fedgate_roster_announcements_total',
      help: 'Roster epoch announcements, by direction: sent (a peer took one) and received; a peer that has shown it holds an epoch is not told it',
      labelNames: ['direction'],
      registers: [registry]
    })
    const views = (): GateViews | undefined => this.views
    new Gauge({
      name: 'fedgate_slots_held',
      help: 'Node keys holding connection slots, by direction and, for inbound, by role class (class="all" is the direction total)',
      labelNames: ['direction', 'class'],
      registers: [registry],
      collect () {
        const use = views()?.slots()
        if (use === undefined) return
        this.reset()
        this.set({ direction: 'inbound', class: 'all' }, use.inbound.held)
        this.set({ direction: 'outbound', class: 'all' }, use.outbound.held)
        for (const [roleClass, { held }] of Object.entries(use.inboundByClass)) this.set({ direction: 'inbound', class: roleClass }, held)
      }
    })
    new Gauge({
      name: 'fedgate_reserved_peer_up',
      help: 'Whether each peer this node must reach (roster topology, or the config dial list) is connected: 1 or 0',
      labelNames: ['member'],
      registers: [registry],
      collect () {
        const reserved = views()?.reserved()
        if (reserved === undefined) return
        this.reset()
        for (const peer of reserved) this.set({ member: peer.memberId ?? peer.addrs[0] ?? '' }, peer.connected ? 1 : 0)
      }
    })
    new Gauge({
      name: 'fedgate_banned_ips',
      help: 'Remote IPs banned now',
      registers: [registry],
      collect () { const v = views(); if (v !== undefined) this.set(v.bannedIps()) }
    })
    new Gauge({
      name: 'fedgate_pending_handshakes',
      help: 'Inbound handshakes in progress',
      registers: [registry],
      collect () { const v = views(); if (v !== undefined) this.set(v.pendingHandshakes()) }
    })
    this.tunnelsOpen = new Gauge({
      name: 'fedgate_tunnels_open',
      help: 'Sidecar tunnels open now, by service and side (expose or forward)',
      labelNames: ['service', 'side'],
      registers: [registry]
    })
    this.tunnels = new Counter({
      name: 'fedgate_tunnels_total',
      help: 'Sidecar tunnels opened, by service and side',
      labelNames: ['service', 'side'],
      registers: [registry]
    })
    this.tunnelRefusals = new Counter({
      name: 'fedgate_tunnel_refusals_total',
      help: 'Sidecar tunnels that could not open, by service, side and reason code',
      labelNames: ['service', 'side', 'reason'],
      registers: [registry]
    })
    this.tunnelCloses = new Counter({
      name: 'fedgate_tunnel_closes_total',
      help: 'Sidecar tunnels closed, by service, side and reason code (ok: both ends closed cleanly)',
      labelNames: ['service', 'side', 'reason'],
      registers: [registry]
    })
    this.tunnelBytes = new Counter({
      name: 'fedgate_tunnel_bytes_total',
      help: 'Bytes carried by sidecar tunnels, by service, side and direction (sent to or received from the peer)',
      labelNames: ['service', 'side', 'direction'],
      registers: [registry]
    })
  }

  /** Where the credential expiry gauge reads this node's credential's notAfter, at every scrape. */
  credentialExpiry (notAfterMs: () => number): void {
    this.notAfterMs = notAfterMs
  }

  /** Where the slot, reserved-peer, ban and pending gauges read the gate's state, at every scrape. */
  observe (views: GateViews): void {
    this.views = views
  }
}
