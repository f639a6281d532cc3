// Copied next to the on-demand install by compliance.registry.ts, so these names resolve there and not
// in the project's own node_modules.
export { default as tests } from '@libp2p/interface-compliance-tests/connection-encryption'
export { defaultLogger } from '@libp2p/logger'
