#!/usr/bin/env node
import { runProber } from '../../../node/bench/flood/prober.ts'

await runProber(process.argv.slice(2))
