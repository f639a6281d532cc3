/** Plain-text tables for benchmark reports: the first column left-aligned, the rest right-aligned. */
export function table (rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map(row => (row[c] ?? '').length))) ?? []
  return rows.map(row => row.map((cell, c) => c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)).join('  ').trimEnd()).join('\n')
}

/** A number with fixed decimals, or '-' when it is not finite. */
export function fixed (n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-'
}

/** A number with thousands separators, or '-' when it is not finite. */
export function grouped (n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-'
}

/** PASS or MISS against a target, '-' when there is none. */
export function verdict (pass: boolean | null): string {
  return pass === null ? '-' : pass ? 'PASS' : 'MISS'
}
