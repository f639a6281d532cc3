import { MalformedError } from './errors.ts'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/

/** Parses a duration such as `500ms`, `60s`, `15m`, `24h` or `7d` into milliseconds. */
export function parseDuration (value: unknown, path: string): number {
  const match = typeof value === 'string' ? DURATION.exec(value) : null
  if (match === null) {
    throw new MalformedError(path, `expected a duration such as 60s, 15m, 24h or 7d, got ${JSON.stringify(value)}`)
  }
  return Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0)
}

/** The shortest exact duration string for a number of milliseconds. */
export function formatDuration (ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
