#!/usr/bin/env node
/**
 * Flood benchmark: node CPU per refused attempt against per admitted connection, member admission
 * latency idle and during a flood from a distinct IP and from the flooding IP (network namespaces,
 * root), peak sockets and memory, time back to baseline. Options: node/bench/flood/run.ts (USAGE).
 */
import { runFloodBench } from '../node/bench/flood/run.ts'

process.exitCode = await runFloodBench(process.argv.slice(2))
