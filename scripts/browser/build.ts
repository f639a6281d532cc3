import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Metafile, type Plugin } from 'esbuild'
import { LIBRARY_FILE, PAGE_FILE } from '../../node/demo/browser/contract.ts'

/** The browser entry (`fedgate/browser`) and the light-client demo page, bundled from source. */
const LIBRARY_ENTRY = fileURLToPath(new URL('../../node/browser/index.ts', import.meta.url))
const PAGE_ENTRY = fileURLToPath(new URL('../../node/demo/browser/page.ts', import.meta.url))


/** Browsers the bundle targets: every evergreen release since 2023 (AbortSignal.any, top-level await). */
const TARGET = ['chrome116', 'firefox124', 'safari17.4']

/**
 * Modules a browser cannot run, or that only a Node node needs. None may reach the bundle: the build
 * fails naming the one that did (esbuild itself already refuses any `node:` import).
 */
export const NODE_ONLY_INPUTS: readonly RegExp[] = [
  /node_modules\/(pino|prom-client|write-file-atomic|@libp2p\/tcp|@libp2p\/prometheus-metrics|commander)\//,
  /(^|\/)node\/(files|daemon|cli)\//,
  /(^|\/)node\/sync\/(roster-sync|epoch-cache)\.ts$/,
  /(^|\/)node\/(log|metrics|federation-node|with-federation)\.ts$/,
  /(^|\/)node\/(net\/noise-crypto|gate\/node-gate)\.ts$/
]

export interface BundleFile {
  readonly name: string
  readonly path: string
  readonly bytes: number
  readonly gzipBytes: number
  /** Modules the file still imports at run time (everything else is inside it). */
  readonly imports: readonly string[]
}

export interface BrowserBuild {
  readonly dir: string
  readonly library: BundleFile
  readonly page: BundleFile
  /** Every source file in the library bundle, relative to the working directory. */
  readonly inputs: readonly string[]
}

/** Thrown when a Node-only module reached the browser bundle. */
export class NodeOnlyInputError extends Error {
  override readonly name = 'NodeOnlyInputError'
}

/**
 * Bundles the browser entry into `dir/fedgate.js` (one ES module with libp2p, Noise, yamux and
 * WebSockets inside) and the demo page into `dir/demo-page.js`, which imports `./fedgate.js` rather
 * than bundling it again. Both are minified ES2022+ for evergreen browsers.
 */
export async function buildBrowser (dir: string): Promise<BrowserBuild> {
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const common = { bundle: true, format: 'esm', platform: 'browser', target: TARGET, minify: true, legalComments: 'none', logLevel: 'warning', metafile: true } as const
  const library = await build({ ...common, entryPoints: [LIBRARY_ENTRY], outfile: join(dir, LIBRARY_FILE) })
  const inputs = Object.keys(library.metafile.inputs)
  const leaked = inputs.filter(input => NODE_ONLY_INPUTS.some(pattern => pattern.test(input)))
  if (leaked.length > 0) throw new NodeOnlyInputError(`Node-only modules reached the browser bundle: ${leaked.join(', ')}; import them only from the Node entry`)
  const page = await build({ ...common, entryPoints: [PAGE_ENTRY], outfile: join(dir, PAGE_FILE), plugins: [libraryAsSibling()] })
  return { dir, library: await measure(dir, LIBRARY_FILE, library.metafile), page: await measure(dir, PAGE_FILE, page.metafile), inputs }
}

/** The page imports the browser entry from source; in the bundle that import becomes `./fedgate.js`. */
function libraryAsSibling (): Plugin {
  return {
    name: 'fedgate-library-as-sibling',
    setup (plugin) {
      plugin.onResolve({ filter: /\/browser\/index\.ts$/ }, () => ({ path: `./${LIBRARY_FILE}`, external: true }))
    }
  }
}

async function measure (dir: string, name: string, metafile: Metafile): Promise<BundleFile> {
  const path = join(dir, name)
  const bytes = await readFile(path)
  const imports = Object.values(metafile.outputs).flatMap(output => output.imports.map(i => i.path))
  return { name, path, bytes: bytes.byteLength, gzipBytes: gzipSync(bytes, { level: 9 }).byteLength, imports }
}
