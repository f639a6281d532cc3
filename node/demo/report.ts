/** Where the demo's progress goes: a step header, then indented result lines. */
export interface Reporter {
  step (title: string): void
  line (text: string): void
}

/** Human progress text, written as it happens. */
export function textReporter (write: (text: string) => void): Reporter {
  let steps = 0
  return {
    step (title) { write(`\n${++steps}. ${title}\n`) },
    line (text) { write(`   ${text}\n`) }
  }
}

/** No progress text (`--json` prints only the summary). */
export const silentReporter: Reporter = { step () {}, line () {} }

/** Marks used in result lines and the connection table. */
export const MARK = { ok: '✓', refused: '✗', link: '●', none: '·', self: '-' } as const

/** `12D3KooWAbc…xyz123`: enough of a PeerId to tell nodes apart. */
export function shortPeerId (peerId: string): string {
  return `${peerId.slice(0, 10)}…${peerId.slice(-6)}`
}

export function formatMs (ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`
}

/** Left-aligns each column of `rows` to its widest cell, two spaces apart. */
export function columns (rows: ReadonlyArray<readonly string[]>): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return rows.map(row => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
}

/**
 * The connection table: one row and one column per node, a mark where the row's node holds an
 * admitted connection to the column's node. Columns are numbered to keep the table narrow.
 */
export function connectionTable (names: readonly string[], connected: ReadonlyArray<readonly boolean[]>): string[] {
  const nameWidth = Math.max(...names.map(n => n.length))
  const numberWidth = String(names.length).length
  const cellWidth = numberWidth + 1
  const header = `${''.padEnd(numberWidth + 1 + nameWidth)} ${names.map((_, j) => String(j + 1).padStart(cellWidth)).join('')}`
  const rows = names.map((name, i) => {
    const cells = names.map((_, j) => (i === j ? MARK.self : connected[i]?.[j] === true ? MARK.link : MARK.none).padStart(cellWidth))
    return `${String(i + 1).padStart(numberWidth)} ${name.padEnd(nameWidth)} ${cells.join('')}`
  })
  return [header, ...rows]
}
