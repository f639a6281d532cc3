export { runDemo, KeepDirError, type DemoOptions } from './run.ts'
export { DemoError } from './cluster.ts'
export { createDemoFederation, freePorts, DEMO_FEDERATION, DEMO_PROTOCOLS, type DemoFederation, type DemoNodeFiles } from './federation.ts'
export { connectionTable } from './report.ts'
export type {
  DemoSummary, SetupSummary, NodeSummary, LinkSummary, RefusalSummary, ProtocolSummary, DropSummary, RevocationSummary
} from './summary.ts'
