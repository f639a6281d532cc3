import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { FedgateMetrics } from '../../node/index.ts'
import { parseConfigFile } from '../../node/daemon/config.ts'
import { README, section, TABLES, type TableName } from './tables.ts'

describe('README reference sections', () => {
  for (const name of Object.keys(TABLES) as TableName[]) {
    it(`the ${name} table is exactly the one generated from its source table`, async () => {
      const found = section(await readFile(README, 'utf8'), name)
      assert.ok(found !== undefined, `README.md has the ${name} markers`)
      assert.equal(found.text, TABLES[name](), `regenerate it: node test/readme/tables.ts --write`)
    })
  }

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
