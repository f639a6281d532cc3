import { MalformedError } from './errors.ts'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/
/** No duration fedgate reads is longer than ten years. */
export const MAX_DURATION_MS = 3650 * 86_400_000

/**
 * Parses a duration such as `500ms`, `60s`, `15m`, `24h` or `7d` into milliseconds, within
 * `min`..`max` ms (default 0 to ten years). Throws MalformedError naming `path` and the bounds.
 */
export function parseDuration (value: unknown, path: string, bounds: { min?: number, max?: number } = {}): number {
  const match = typeof value === 'string' ? DURATION.exec(value) : null
  if (match === null) {
    throw new MalformedError(path, `expected a duration such as 60s, 15m, 24h or 7d, got ${JSON.stringify(value)}`)
  }
  const ms = Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0)
  const min = bounds.min ?? 0
  const max = bounds.max ?? MAX_DURATION_MS
  if (ms < min || ms > max) {
    throw new MalformedError(path, `${String(value)} is outside ${formatDuration(min)}..${formatDuration(max)}`)
  }
  return ms
}

/** The shortest exact duration string for a number of milliseconds. */
export function formatDuration (ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
