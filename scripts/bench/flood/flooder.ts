#!/usr/bin/env node
import { runFlooder } from '../../../node/bench/flood/flooder.ts'

await runFlooder(process.argv.slice(2))
