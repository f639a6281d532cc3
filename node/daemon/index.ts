export { startDaemon, runDaemon, Daemon, FORCE_EXIT_MS, ADMIN_ADDR_FILE, LISTEN_ADDRS_FILE, PING_TIMEOUT_MIN_MS, PING_TIMEOUT_MAX_MS, type DaemonInit } from './daemon.ts'
export { AdminServer, STATUS_REFUSALS, type StatusDocument, type HealthDocument, type PublishDocument, type AdminServerOptions } from './admin-server.ts'
export {
  loadDaemonConfig, parseConfigFile, adminAddress, isLoopback, formatHostPort, DEFAULT_ADMIN, DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT,
  DEFAULT_DATA_DIR, DEFAULT_LOG_LEVEL, LOG_LEVELS, type DaemonConfig, type DaemonFlags, type AdminAddress, type LogLevel
} from './config.ts'
export {
  startupSummary, credentialExpiresSoon, humanDuration, timeLeft, EXPIRY_WARNING_MS, EXPIRY_WARNING_LIFETIME_SHARE, EXPIRY_URGENT_MS, type StartupInfo
} from './summary.ts'
export { ConfigError, DaemonStartError, AdminListenError } from './errors.ts'
export { waitForCredential, CredentialWaitAbortedError, WAITABLE_VERDICTS, type WaitingDocument, type CredentialWaitInit } from './credential-wait.ts'
