#!/usr/bin/env node
import { runCli } from '../node/cli/index.ts'

process.exitCode = await runCli(process.argv.slice(2))
