#!/usr/bin/env node
/**
 * Browser light-client benchmark: page load → authenticated full node (p50 over repeated loads in
 * headless Chromium) and the size of the browser bundle.
 *
 *   node scripts/bench-browser.ts [--loads N] [--json]
 */
import { parseArgs } from 'node:util'
import { renderBrowserBench, runBrowserBench } from './browser/bench.ts'

const { values } = parseArgs({ options: { loads: { type: 'string' }, json: { type: 'boolean', default: false } } })
const result = await runBrowserBench({ loads: values.loads === undefined ? undefined : Number(values.loads) })
process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : renderBrowserBench(result) + '\n')
