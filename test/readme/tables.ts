/**
 * The README's generated tables: reason codes (membership/reasons.ts), log events
 * (node/events.ts) and protocol presets (membership/protocols.ts). `node test/readme/tables.ts --write` rewrites them in README.md; the
 * reference test checks they match.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { PROTOCOL_PRESETS, REASONS, REASON_CODES, presetsOf, type PresetName } from '../../membership/index.ts'
import { EVENTS, type EventName } from '../../node/index.ts'

export const README = new URL('../../README.md', import.meta.url)

const cell = (text: string): string => text.replaceAll('|', '\\|')

export const TABLES = {
  'reason-codes': (): string => {
    const rows = REASON_CODES.map(code => {
      const { stage, meaning, fix } = REASONS[code]
      return `| \`${code}\` | ${cell(stage)} | ${cell(meaning)} | ${cell(fix)} |`
    })
    return ['| code | stage | meaning | fix |', '|---|---|---|---|', ...rows].join('\n') + '\n'
  },
  'log-events': (): string => {
    const rows = (Object.keys(EVENTS) as EventName[]).map(name => {
      const { audit, meaning } = EVENTS[name]
      return `| \`${name}\` | ${audit ? 'audit' : 'operational'} | ${cell(meaning)} |`
    })
    return ['| event | kind | meaning |', '|---|---|---|', ...rows].join('\n') + '\n'
  },
  'protocol-presets': (): string => {
    const rows = (Object.keys(PROTOCOL_PRESETS) as PresetName[]).map(name => {
      const { protocols, needs, meaning } = PROTOCOL_PRESETS[name]
      const needed = [...new Set(needs.flatMap((need: string) => presetsOf(need)))].join(', ')
      return `| \`${name}\` | ${protocols.map((p: string) => `\`${p}\``).join(', ')} | ${needed} | ${cell(meaning)} |`
    })
    return ['| preset | policy entries | needs | for |', '|---|---|---|---|', ...rows].join('\n') + '\n'
  }
} as const

export type TableName = keyof typeof TABLES

/** The text between `<!-- NAME:begin … -->` and `<!-- NAME:end -->`, with where it sits. */
export function section (readme: string, name: TableName): { start: number, end: number, text: string } | undefined {
  const begin = new RegExp(`<!-- ${name}:begin[^>]*-->\\n`).exec(readme)
  const end = readme.indexOf(`<!-- ${name}:end -->`)
  if (begin === null || end < begin.index) return undefined
  const start = begin.index + begin[0].length
  return { start, end, text: readme.slice(start, end) }
}

if (process.argv.includes('--write')) {
  let readme = await readFile(README, 'utf8')
  for (const name of Object.keys(TABLES) as TableName[]) {
    const found = section(readme, name)
    if (found === undefined) throw new Error(`README.md has no ${name} markers`)
    readme = readme.slice(0, found.start) + TABLES[name]() + readme.slice(found.end)
  }
  await writeFile(README, readme)
}
