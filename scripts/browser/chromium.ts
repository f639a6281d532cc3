import { access, constants, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

/** Debian's Chromium (`apt-get install -y chromium`); playwright-core drives it, it never downloads a browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Headless, and quiet: no background traffic to Google's hosts, which this machine's closed network refuses. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

/** Thrown when Debian's Chromium is not installed. */
export class ChromiumMissingError extends Error {
  override readonly name = 'ChromiumMissingError'

  constructor () {
    super(`no Chromium at ${CHROMIUM_PATH}: install Debian's package with \`apt-get update && apt-get install -y chromium\` (as root)`)
  }
}

export interface HeadlessChromium {
  /** One browser profile, in a fresh empty user-data-dir removed by `close()`. */
  readonly context: BrowserContext
  close (): Promise<void>
}

/** Starts Debian's Chromium headless with a fresh empty profile; ChromiumMissingError when it is not installed. */
export async function launchChromium (): Promise<HeadlessChromium> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK)
  } catch {
    throw new ChromiumMissingError()
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'fedgate-chromium-'))
  try {
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] })
    return {
      context,
      close: async () => {
        await context.close()
        await rm(userDataDir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true })
    throw err
  }
}
