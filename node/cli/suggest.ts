/** At most this many close matches are named. */
const MAX_SUGGESTIONS = 5

/**
 * The `candidates` an operator most likely meant by `wanted` (a typo, a missing prefix or
 * suffix), closest first: within an edit distance of a third of its length (at least 2), or
 * containing it, or contained in it.
 */
export function closeMatches (wanted: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(2, Math.floor(wanted.length / 3))
  const scored: Array<[string, number]> = []
  for (const candidate of candidates) {
    const distance = editDistance(wanted.toLowerCase(), candidate.toLowerCase())
    const overlaps = candidate.includes(wanted) || wanted.includes(candidate)
    if (distance <= limit || overlaps) scored.push([candidate, distance])
  }
  return scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, MAX_SUGGESTIONS).map(([c]) => c)
}

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
