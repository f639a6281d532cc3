import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

export interface AuditLogInit {
  /** Append JSON lines to this file instead of stdout. */
  file?: string
  /** @default 'info' */
  level?: string
  /** Write to this stream instead (tests). */
  stream?: DestinationStream
}

/**
 * The audit log: one JSON line per admission, refusal, disconnect, stream reset, roster update and
 * credential renewal, each with an `event` name and, where it applies, a `reason` code.
 */
export function createAuditLog (init: AuditLogInit = {}): Logger {
  const options = { level: init.level ?? 'info', base: { service: 'fedgate' }, timestamp: pino.stdTimeFunctions.isoTime }
  if (init.stream !== undefined) return pino(options, init.stream)
  if (init.file !== undefined) return pino(options, pino.destination({ dest: init.file, append: true, mkdir: true, sync: false }))
  return pino(options, pino.destination({ dest: 1, sync: false }))
}

/** A logger that drops everything: for library users who bring no logger. */
export function silentLog (): Logger {
  return pino({ level: 'silent' })
}
