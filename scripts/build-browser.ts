#!/usr/bin/env node
import { fileURLToPath } from 'node:url'
import { buildBrowser } from './browser/build.ts'

const built = await buildBrowser(fileURLToPath(new URL('../dist/browser/', import.meta.url)))
console.log(`${built.library.path}: ${built.library.bytes} bytes (${built.library.gzipBytes} gzipped); ${built.page.path}: ${built.page.bytes} bytes`)
