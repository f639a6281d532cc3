export {
  FederationBuilder, createFederationBuilder, DEFAULT_ADMIN_COUNT, DEFAULT_ADMIN_THRESHOLD,
  type FederationBuilderInit, type MemberSpec, type ProtocolTable, type EpochOptions, type IssueOptions
} from './builder.ts'
export { FederationKeys, seededSecret, type FederationKeysInit } from './keys.ts'
export { writeRosterFile, writeNodeConfig, nodeConfig, type NodeFiles, type NodeSettings, type NodeConfigDocument } from './files.ts'
export { writeKeyFile, KEY_FILE_MODE } from '../files/key-file.ts'
export { writeCredentialFile } from '../files/credential-file.ts'
