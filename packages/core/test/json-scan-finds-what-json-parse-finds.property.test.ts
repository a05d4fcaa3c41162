/**
 * Property: the usage reader's key search (a plain loop near the ends of a buffer, Buffer's native
 * search beyond) finds what a parse of the document finds, wherever the key sits: a usage object
 * and a model string inside any amount of JSON around them, before, across and after the 512 bytes
 * the loop covers, with look-alike text (the key escaped inside a string) on either side.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { keyNeedle, lastObject, stringValue } from '../src/json-scan.js'

const USAGE = keyNeedle('usage')
const MODEL = keyNeedle('model')

/** Filler JSON members: text that may mention the keys, escaped, as a model's output would. */
const filler = fc.array(
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 80 }),
    fc.constantFrom('"usage": {"input_tokens": 1}', '"model": "not-this"', 'usage', 'model', '\\"'),
  ),
  { maxLength: 40 },
)
const padding = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 480, max: 560 }), fc.integer({ min: 0, max: 3000 }))
const usage = fc.record({
  input_tokens: fc.nat(),
  output_tokens: fc.nat(),
  cache_read_input_tokens: fc.option(fc.nat(), { nil: undefined }),
  service_tier: fc.option(fc.constantFrom('standard', 'priority', 'üñí'), { nil: undefined }),
})
const model = fc.oneof(fc.constantFrom('claude-bench', 'gpt-4o-2024-08-06', 'mödel "quoted"'), fc.string({ minLength: 1, maxLength: 40 }))

describe('json-scan finds what JSON.parse finds', () => {
  test('the last top-level usage object and the first model string, wherever they sit', () => {
    fc.assert(
      fc.property(filler, padding, filler, padding, usage, model, (before, padBefore, after, padAfter, u, m) => {
        // The padding puts the model key that far from the start and the usage key that far from the end.
        const doc = {
          id: `msg_${'p'.repeat(padBefore)}`,
          model: m,
          content: [{ type: 'text', text: before.join(' ') }],
          usage: u,
          notes: `${after.join(' ')}${'q'.repeat(padAfter)}`,
        }
        const buf = Buffer.from(JSON.stringify(doc))
        expect(lastObject(buf, USAGE)).toEqual(JSON.parse(JSON.stringify(u)))
        expect(stringValue(buf, MODEL)).toBe(m)
      }),
      { numRuns: 400 },
    )
  })

  test('a model key at the end (Gemini) is found from the end, past any padding', () => {
    fc.assert(
      fc.property(padding, model, (pad, m) => {
        const buf = Buffer.from(JSON.stringify({ candidates: [{ text: 'z'.repeat(pad) }], modelVersion: m }))
        expect(stringValue(buf, keyNeedle('modelVersion'), true)).toBe(m)
      }),
      { numRuns: 200 },
    )
  })

  test('no key, no answer, at every length around the loop boundary', () => {
    for (let n = 0; n < 1200; n += 7) {
      const buf = Buffer.from(JSON.stringify({ text: 'u'.repeat(n) }))
      expect(lastObject(buf, USAGE)).toBeUndefined()
      expect(stringValue(buf, MODEL)).toBeUndefined()
      expect(stringValue(buf, MODEL, true)).toBeUndefined()
    }
  })
})
