import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EVENTS } from '../../node/index.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function sources (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await sources(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out
}

describe('log events', () => {
  it('every event name the code writes is in the EVENTS table', async () => {
    const used = new Set<string>()
    for (const file of [...await sources('node'), ...await sources('membership')]) {
      const text = await readFile(join(ROOT, file), 'utf8')
      for (const match of text.matchAll(/event: '([a-z-]+)'/g)) used.add(match[1] ?? '')
      for (const match of text.matchAll(/logEvent\([^,]+, '(?:info|warn|error)', '([a-z-]+)'/g)) used.add(match[1] ?? '')
    }
    assert.ok(used.size > 10, 'the scan finds the events the code writes')
    const unknown = [...used].filter(name => !Object.hasOwn(EVENTS, name))
    assert.deepEqual(unknown, [], 'add these to node/events.ts')
  })
})
