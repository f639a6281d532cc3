import { silentLog, type Logger } from '../log.ts'
import { FedgateMetrics } from '../metrics.ts'
import type { RosterSource } from '../roster-source.ts'
import { FederationGate as PortableGate, type FederationGateInit as PortableGateInit } from './gate.ts'

export interface FederationGateInit<Store extends RosterSource = RosterSource> extends Omit<PortableGateInit<Store>, 'log' | 'metrics'> {
  /** @default a silent pino logger */
  log?: Logger
  /** @default a new FedgateMetrics, with its own prom-client registry (`gate.metrics.registry`) */
  metrics?: FedgateMetrics
}

/**
 * The gate as the Node entry exports it: the portable gate (gate.ts) with Node's defaults, a pino
 * log and fedgate's Prometheus metrics. The browser entry exports the portable gate itself.
 */
export class FederationGate<Store extends RosterSource = RosterSource> extends PortableGate<Store> {
  declare readonly log: Logger
  declare readonly metrics: FedgateMetrics

  constructor (init: FederationGateInit<Store>) {
    super({ ...init, log: init.log ?? silentLog(), metrics: init.metrics ?? new FedgateMetrics() })
  }
}
