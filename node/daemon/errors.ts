/** Thrown when the daemon's settings are wrong: `where` names the file and JSON path, or the flag. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly where: string
  readonly fix: string
  /** True when the command line itself is wrong (a usage error), false when the config file is. */
  readonly usage: boolean

  constructor (where: string, message: string, fix: string, usage = false) {
    super(`${where}: ${message}`)
    this.where = where
    this.fix = fix
    this.usage = usage
  }
}

/** Thrown when the daemon cannot start; the message names the thing and `fix` says what to do. */
export class DaemonStartError extends Error {
  override readonly name = 'DaemonStartError'
  readonly fix: string | undefined

  constructor (message: string, fix?: string) {
    super(message)
    this.fix = fix
  }
}

/** Thrown when the admin endpoint cannot bind its address (in use, not local, no permission). */
export class AdminListenError extends Error {
  override readonly name = 'AdminListenError'
  readonly code: string

  /** `address` as HOST:PORT. */
  constructor (address: string, code: string) {
    super(`admin ${address}: cannot listen (${describeErrno(code)})`)
    this.code = code
  }
}

/** A socket error code in words. */
export function describeErrno (code: string): string {
  if (code === 'EADDRINUSE') return 'address already in use'
  if (code === 'EADDRNOTAVAIL') return 'not an address of this host'
  if (code === 'EACCES') return 'permission denied'
  return code
}
