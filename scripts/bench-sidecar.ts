#!/usr/bin/env node
import { runSidecarBench } from './bench/sidecar/run.ts'

process.exitCode = await runSidecarBench(process.argv.slice(2))
