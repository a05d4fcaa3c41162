/**
 * Property: a key's hint (what logs, records and errors show) never holds more than 8 characters of
 * the key, and never more than 40% of it: it is the key's first and last m characters around '...',
 * m <= 4, or '...' alone. The fingerprint is the same for the same key and never holds any of it.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { fingerprint, maskKey } from '../src/mask.js'

const visible = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c))
/** A string of exactly `n` units. */
const ofLength = (unit: fc.Arbitrary<string>, n: number) => fc.string({ unit, minLength: n, maxLength: n })

/**
 * Keys as options accept them (visible ASCII), of every length around the rule's thresholds (5, 10,
 * 20) and far beyond, and any string at all. Lengths are drawn explicitly: fast-check keeps strings
 * short (a dozen units) unless told otherwise.
 */
const key = fc.oneof(
  fc.integer({ min: 1, max: 40 }).chain((n) => ofLength(visible, n)),
  fc.integer({ min: 1, max: 300 }).chain((n) => ofLength(visible, n)),
  fc.integer({ min: 0, max: 60 }).chain((n) => ofLength(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), n)),
  fc.string({ unit: 'grapheme', maxLength: 40, size: 'max' }),
)

/** The longest run of consecutive key characters that appears in `text`. */
function longestRun(secret: string, text: string): number {
  let best = 0
  for (let i = 0; i < secret.length; i++) {
    for (let j = i + best + 1; j <= secret.length && text.includes(secret.slice(i, j)); j++) best = j - i
  }
  return best
}

describe('maskKey', () => {
  test('the first and last m <= 4 characters around "...", at most 40% of the key', () => {
    fc.assert(
      fc.property(key, (k) => {
        const hint = maskKey(k)
        if (hint === '...') return
        const m = (hint.length - 3) / 2
        expect(Number.isInteger(m) && m >= 1 && m <= 4).toBe(true)
        expect(hint).toBe(`${k.slice(0, m)}...${k.slice(k.length - m)}`)
        expect(2 * m).toBeLessThanOrEqual(0.4 * k.length)
      }),
      { numRuns: 5000 },
    )
  })

  test('no run of more than 8 key characters appears in the hint (keys without dots, which "..." could match)', () => {
    fc.assert(
      fc.property(key.filter((k) => !k.includes('.')), (k) => {
        expect(longestRun(k, maskKey(k))).toBeLessThanOrEqual(8)
      }),
      { numRuns: 3000 },
    )
  })

  test('the fingerprint is stable and holds no run of more than 8 key characters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 12, max: 80 }).chain((n) => ofLength(visible, n)), (k) => {
        const id = fingerprint(k)
        expect(id).toMatch(/^k_[0-9a-f]{16}$/)
        expect(fingerprint(k)).toBe(id)
        // A 16-hex-digit id can share a few characters with a key by chance, never a meaningful part of it.
        expect(longestRun(k, id.slice(2))).toBeLessThanOrEqual(Math.min(8, k.length - 1))
      }),
      { numRuns: 2000 },
    )
  })
})
