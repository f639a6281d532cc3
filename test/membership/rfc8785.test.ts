import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { canonicalBytes } from '../../membership/index.ts'

/*
 * canonicalBytes against RFC 8785's own examples and its author's reference test data (sources and
 * licence: test/vectors/rfc8785/README.md).
 */

const DIR = fileURLToPath(new URL('../vectors/rfc8785/', import.meta.url))

interface RfcVectors {
  readonly serialization: { readonly input: string, readonly canonical: string, readonly utf8: string }
  readonly sorting: { readonly input: string, readonly valuesInOrder: readonly string[] }
  readonly numbers: ReadonlyArray<{ readonly ieee754: string, readonly json: string | null }>
}

interface NumberSequence {
  readonly static: readonly string[]
  readonly serial: { readonly start: string, readonly count: number }
  readonly checksums: ReadonlyArray<{ readonly lines: number, readonly bytes: number, readonly sha256: string }>
}

async function json<T> (file: string): Promise<T> {
  return JSON.parse(await readFile(`${DIR}${file}`, 'utf8')) as T
}

function double (bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, bits)
  return view.getFloat64(0)
}

function text (value: unknown): string {
  return new TextDecoder().decode(canonicalBytes(value))
}

/**
 * The doubles of cyberphone's number test file, in order (testdata/numgen.js): the fixed values,
 * the serial run, then float64s read little-endian from a SHA-256 chain, skipping 0 and non-finite.
 */
function * numberSequence (seq: NumberSequence): Generator<{ bits: bigint, value: number }> {
  for (const hex of seq.static) yield { bits: BigInt(`0x${hex}`), value: double(BigInt(`0x${hex}`)) }
  const start = BigInt(`0x${seq.serial.start}`)
  for (let i = 0n; i < BigInt(seq.serial.count); i++) yield { bits: start + i, value: double(start + i) }
  let block = Buffer.alloc(32)
  for (;;) {
    block = createHash('sha256').update(block).digest()
    for (let i = 0; i < 4; i++) {
      const bits = block.readBigUInt64LE(i * 8)
      const value = double(bits)
      if (value !== 0 && Number.isFinite(value)) yield { bits, value }
    }
  }
}

describe('RFC 8785 canonical JSON', () => {
  it('section 3.2.2-3.2.4: the parsed example canonicalizes to the RFC\'s text and UTF-8 bytes', async () => {
    const { serialization } = await json<RfcVectors>('rfc8785.json')
    const bytes = canonicalBytes(JSON.parse(serialization.input))
    assert.equal(new TextDecoder().decode(bytes), serialization.canonical)
    assert.equal(Buffer.from(bytes).toString('hex').match(/../g)?.join(' '), serialization.utf8)
  })

  it('section 3.2.3: properties sort by UTF-16 code units, whatever the locale', async () => {
    const { sorting } = await json<RfcVectors>('rfc8785.json')
    // Read the values in the order of the text: a parsed object would put the key "1" first again.
    const values = [...text(JSON.parse(sorting.input)).matchAll(/:"([^"]*)"/g)].map(match => match[1])
    assert.deepEqual(values, sorting.valuesInOrder)
  })

  it('appendix B: every number serializes as the RFC shows; NaN and Infinity are refused', async () => {
    const { numbers } = await json<RfcVectors>('rfc8785.json')
    assert.equal(numbers.length, 26)
    for (const { ieee754, json: expected } of numbers) {
      const value = double(BigInt(`0x${ieee754}`))
      if (expected === null) assert.throws(() => canonicalBytes(value), `${ieee754} has no JSON form`)
      else assert.equal(text(value), expected, ieee754)
    }
    assert.throws(() => canonicalBytes(-Infinity))
  })

  it('lone surrogates are refused (section 3.2.2.2)', () => {
    assert.throws(() => canonicalBytes('\ud800'))
    assert.throws(() => canonicalBytes({ ['\udead']: 1 }))
    assert.equal(text('\ud83d\ude02'), '"\u{1f602}"')
  })

  it('cyberphone reference data: each input file canonicalizes to exactly the bytes of its output file', async () => {
    const names = (await readdir(`${DIR}cyberphone/input`)).sort()
    assert.deepEqual(names, ['arrays.json', 'french.json', 'structures.json', 'unicode.json', 'values.json', 'weird.json'])
    for (const name of names) {
      const input = JSON.parse(await readFile(`${DIR}cyberphone/input/${name}`, 'utf8')) as unknown
      const expected = await readFile(`${DIR}cyberphone/output/${name}`)
      assert.deepEqual(Buffer.from(canonicalBytes(input)), expected, name)
    }
  })

  it('cyberphone number sequence: the first 100,000 lines hash to the published SHA-256 checksums', async () => {
    const seq = await json<NumberSequence>('cyberphone/numgen.json')
    const hash = createHash('sha256')
    const checks = new Map(seq.checksums.map(c => [c.lines, c]))
    const last = Math.max(...checks.keys())
    let lines = 0
    let bytes = 0
    for (const { bits, value } of numberSequence(seq)) {
      const line = `${bits.toString(16)},${text(value)}\n`
      hash.update(line)
      bytes += line.length
      lines++
      const check = checks.get(lines)
      if (check !== undefined) {
        assert.deepEqual([hash.copy().digest('hex'), bytes], [check.sha256, check.bytes], `first ${lines} lines`)
        checks.delete(lines)
      }
      if (lines === last) break
    }
    assert.equal(checks.size, 0)
  })
})
