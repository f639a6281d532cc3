import { dirname, relative } from 'node:path'
import writeFileAtomic from 'write-file-atomic'
import type { Roster } from '../../membership/index.ts'

/** A roster holds no secret: readable by all, like the CLI writes it. */
const ROSTER_FILE_MODE = 0o644
const CONFIG_FILE_MODE = 0o644

/** Where a node's files are, as absolute paths. */
export interface NodeFiles {
  readonly key: string
  readonly credential: string
  readonly roster: string
  readonly dataDir: string
}

/** The settings of a node config file besides its files (see node/daemon/config.ts for each field). */
export interface NodeSettings {
  readonly listen: readonly string[]
  /** HOST:PORT of the admin endpoint. */
  readonly admin?: string
  readonly dial?: readonly string[]
  readonly auditLog?: string
  readonly logLevel?: string
  readonly rosterSync?: boolean
}

/** The JSON document `fedgate node start --config` reads: NodeFiles relative to it, and NodeSettings. */
export type NodeConfigDocument = NodeFiles & NodeSettings

/** Replaces a roster file atomically (temp file, fsync, rename), as `fedgate roster sign` does. */
export async function writeRosterFile (file: string, roster: Roster): Promise<void> {
  await writeFileAtomic(file, roster.encode(), { fsync: true, mode: ROSTER_FILE_MODE })
}

/** A node config whose file paths are relative to the config file's folder, so the folder can move. */
export function nodeConfig (configFile: string, files: NodeFiles, settings: NodeSettings): NodeConfigDocument {
  const base = dirname(configFile)
  const rel = (file: string): string => relative(base, file)
  return {
    key: rel(files.key),
    credential: rel(files.credential),
    roster: rel(files.roster),
    dataDir: rel(files.dataDir),
    ...settings
  }
}

/** Writes a node config file atomically. */
export async function writeNodeConfig (file: string, config: NodeConfigDocument | Readonly<Record<string, unknown>>): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n', { fsync: true, mode: CONFIG_FILE_MODE })
}
