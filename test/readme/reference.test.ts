import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { REASONS, REASON_CODES } from '../../membership/index.ts'
import { FedgateMetrics } from '../../node/index.ts'
import { parseConfigFile } from '../../node/daemon/config.ts'

const README = new URL('../../README.md', import.meta.url)
const BEGIN = /<!-- reason-codes:begin[^>]*-->\n/
const END = '<!-- reason-codes:end -->'

/** The README's reason-code table, as generated from REASONS: one row per code, in table order. */
function reasonTable (): string {
  const cell = (text: string): string => text.replaceAll('|', '\\|')
  const rows = REASON_CODES.map(code => {
    const { stage, meaning, fix } = REASONS[code]
    return `| \`${code}\` | ${cell(stage)} | ${cell(meaning)} | ${cell(fix)} |`
  })
  return ['| code | stage | meaning | fix |', '|---|---|---|---|', ...rows].join('\n') + '\n'
}

function section (readme: string): string {
  const begin = BEGIN.exec(readme)
  const end = readme.indexOf(END)
  assert.ok(begin !== null && end > begin.index, 'README.md has the reason-code markers')
  return readme.slice(begin.index + begin[0].length, end)
}

describe('README reference sections', () => {
  it('the reason-code table is exactly the one generated from membership/reasons.ts', async () => {
    const readme = await readFile(README, 'utf8')
    assert.equal(section(readme), reasonTable(), `regenerate the table between the markers in README.md:\n${reasonTable()}`)
  })

  it('lists every fedgate metric', async () => {
    const readme = await readFile(README, 'utf8')
    const names = (await new FedgateMetrics().registry.getMetricsAsJSON()).map(m => m.name)
    assert.ok(names.length > 0)
    for (const name of names) assert.ok(readme.includes(`| \`${name}\` |`), `README.md lists metric ${name}`)
  })

  it('the node config example is a config the daemon accepts, and documents each of its fields', async () => {
    const readme = await readFile(README, 'utf8')
    const start = readme.indexOf('## Node configuration')
    const match = /```json\n([\s\S]*?)```/.exec(readme.slice(start))
    assert.ok(start >= 0 && match?.[1] !== undefined, 'README.md has a JSON config example under "Node configuration"')
    const example = match[1]
    const settings = parseConfigFile(example, '/etc/fedgate/node.json')
    assert.equal(settings.key, '/etc/fedgate/node.key')
    for (const field of Object.keys(JSON.parse(example) as object)) {
      assert.ok(readme.includes(`| \`${field}\` |`), `README.md documents config field ${field}`)
    }
  })
})
