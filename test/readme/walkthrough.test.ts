import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePorts } from '../../node/demo/index.ts'
import { STACK_TRACE_LINE } from '../cli/run.ts'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const WALKTHROUGH_HEADING = '## Walkthrough'
/** The fixed ports the README uses; the test swaps in ports the OS reports free. */
const README_PORTS = ['7001', '7002', '9101', '9102']
/** The whole walkthrough is cut off after this (it normally takes about a minute; a loaded machine takes longer). */
const RUN_TIMEOUT_MS = 300_000
const STEP_MARK = '@@step'

/** The bash blocks of the README's walkthrough section, in order. */
function walkthroughBlocks (readme: string): string[] {
  const start = readme.indexOf(WALKTHROUGH_HEADING)
  assert.ok(start >= 0, `README.md has a "${WALKTHROUGH_HEADING}" section`)
  const rest = readme.slice(start + WALKTHROUGH_HEADING.length)
  const end = rest.search(/\n## /)
  const section = end < 0 ? rest : rest.slice(0, end)
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map(m => m[1] ?? '')
}

interface StepRun {
  readonly index: number
  readonly begun: boolean
  readonly ended: boolean
  readonly output: string
}

/**
 * One bash script running every block in order, as an operator pastes them into one shell: aliases
 * on (as in an interactive shell), stop at the first failing command, a marker line around each
 * block, on stdout and stderr, so the output can be attributed to its step.
 */
function script (blocks: readonly string[]): string {
  const lines = ['shopt -s expand_aliases', 'set -e']
  blocks.forEach((block, i) => {
    const mark = (what: string): string => `echo "${STEP_MARK} ${i + 1} ${what}"; echo "${STEP_MARK} ${i + 1} ${what}" >&2`
    lines.push(mark('begin'), block.trimEnd(), mark('end'))
  })
  return lines.join('\n') + '\n'
}

/** One stream's output of the run, cut into its steps. */
function splitSteps (output: string, count: number): StepRun[] {
  const steps: StepRun[] = []
  for (let i = 1; i <= count; i++) {
    const begin = output.indexOf(`${STEP_MARK} ${i} begin\n`)
    const end = output.indexOf(`${STEP_MARK} ${i} end\n`)
    steps.push({
      index: i,
      begun: begin >= 0,
      ended: end >= 0,
      output: begin < 0 ? '' : output.slice(begin, end < 0 ? undefined : end)
    })
  }
  return steps
}

/** Runs `script` in bash in `cwd` with HOME set to `home`, in its own process group; resolves with its exit code and output. */
async function runBash (text: string, home: string, onStart: (child: ChildProcess) => void): Promise<{ code: number | null, stdout: string, stderr: string }> {
  // Its own process group, so that everything the walkthrough starts can be stopped at once.
  const bash = spawn('bash', ['-c', text], {
    cwd: REPO,
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  onStart(bash)
  let stdout = ''
  let stderr = ''
  bash.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  bash.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const timer = setTimeout(() => { stopGroup(bash) }, RUN_TIMEOUT_MS)
  const code = await new Promise<number | null>(resolve => { bash.on('close', resolve) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

describe('README walkthrough: a federation by hand, run block by block', () => {
  let home: string
  let child: ChildProcess | undefined
  let blocks: string[]
  let code: number | null = null
  let stdout = ''
  let stderr = ''

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'fedgate-readme-'))
    const readme = await readFile(join(REPO, 'README.md'), 'utf8')
    const ports = await freePorts(README_PORTS.length)
    blocks = walkthroughBlocks(readme).map(block =>
      README_PORTS.reduce((text, port, i) => text.replaceAll(new RegExp(`\\b${port}\\b`, 'g'), String(ports[i])), block))
    ;({ code, stdout, stderr } = await runBash(script(blocks), home, bash => { child = bash }))
  })

  after(async () => {
    if (child !== undefined) stopGroup(child)
    await rm(home, { recursive: true, force: true })
  })

  it('has the steps from keygen to revocation', () => {
    assert.ok(blocks.length >= 10, `expected the walkthrough's bash blocks, found ${blocks.length}`)
    const text = blocks.join('\n')
    for (const command of ['keygen admin', 'roster init', 'keygen member', 'roster add-member', 'roster allow', 'roster sign',
      'roster verify', 'keygen node', 'credential issue', 'keygen admin --encrypt', '--passphrase-file', 'credential renew', 'node start --config', 'node status',
      'roster revoke', 'roster publish', 'roster set-admins', 'roster merge-signatures', 'roster set-policy', 'roster show', 'kill %1']) {
      assert.ok(text.includes(command), `the walkthrough runs fedgate ${command}`)
    }
  })

  it('runs every block to the end, each exiting 0', () => {
    const steps = splitSteps(stdout, blocks.length)
    const failed = steps.find(s => !s.ended)
    assert.equal(failed, undefined, `step ${failed?.index ?? '?'} did not finish:\n${failed?.output ?? ''}\nstderr:\n${stderr}`)
    assert.equal(code, 0, `bash exited ${String(code)}; stderr:\n${stderr}`)
  })

  it('prints no stack trace in any step, nor in the nodes\' logs', async () => {
    for (const step of splitSteps(stderr, blocks.length)) {
      assert.doesNotMatch(step.output, STACK_TRACE_LINE, `step ${step.index} printed a stack trace on stderr:\n${step.output}`)
    }
    for (const log of ['val-1.log', 'val-2.log']) {
      const text = await readFile(join(home, 'fedgate-walkthrough', log), 'utf8')
      assert.match(text, /^fedgate node started$/m, `${log} has the startup summary`)
      assert.doesNotMatch(text, STACK_TRACE_LINE, `${log} holds a stack trace:\n${text}`)
    }
  })

  it('shows val-2 admitted by val-1 while both run', () => {
    const status = splitSteps(stdout, blocks.length).find(s => /^peers\s+1$/m.test(s.output))
    assert.ok(status !== undefined, 'a step printed val-1\'s status with one peer')
    assert.match(status.output, /val-2\s+validator\s+inbound/)
  })

  it('rotates the admins through the CLI: val-1 follows the chain to epoch 4, and its roster file with it', () => {
    const rotation = splitSteps(stdout, blocks.length).find(s => /epoch 4 accepted by the node/.test(s.output))
    assert.ok(rotation !== undefined, 'a step published the rotated epochs')
    assert.match(rotation.output, /roster-epoch-3\.json: epoch 3 accepted by the node/)
    assert.match(rotation.output, /roster-epoch-4\.json: epoch 4 accepted by the node/)
    assert.match(rotation.output, /2 of 2 required signatures by the admins of epoch 2, 2 of 3 \(threshold met\)/)
    // `roster show` of the node's own roster file: rewritten by the node to the epoch it accepted.
    assert.match(rotation.output, /^epoch +4 \(2 signatures\)/m)
    assert.match(rotation.output, /^credentials +at most 7d, clock skew 30s$/m)
  })

  it('ends with val-2 gone from val-1, refused as revoked', () => {
    const steps = splitSteps(stdout, blocks.length)
    const last = [...steps].reverse().find(s => s.output.includes('federation') && s.output.includes('roster epoch'))
    assert.ok(last !== undefined, 'a step printed val-1\'s status after the revocation')
    assert.match(last.output, /roster epoch 2/)
    assert.match(last.output, /no admitted peers/)
    assert.match(last.output, /\brevoked\b/)
  })
})

describe('README walkthrough: step 1 starts from a fresh folder', () => {
  let home: string
  let child: ChildProcess | undefined

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'fedgate-readme-again-'))
  })

  after(async () => {
    if (child !== undefined) stopGroup(child)
    await rm(home, { recursive: true, force: true })
  })

  it('steps 1 and 2 run again after an earlier run, in a new shell', async () => {
    const [first, second] = walkthroughBlocks(await readFile(join(REPO, 'README.md'), 'utf8'))
    assert.ok(first !== undefined && second !== undefined)
    const again = script([first, second])
    for (const run of [1, 2]) {
      const { code, stderr } = await runBash(again, home, bash => { child = bash })
      assert.equal(code, 0, `run ${run} failed:\n${stderr}`)
    }
  })
})

/** Stops the walkthrough's shell and the nodes it started in the background (its process group). */
function stopGroup (child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, 'SIGTERM')
  } catch {
    // Already gone.
  }
}
