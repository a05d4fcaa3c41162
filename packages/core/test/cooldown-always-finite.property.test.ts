/**
 * Property: whatever a provider (or anything between it and us) puts in its rate-limit headers, the
 * cooldown read from them is undefined or a finite number of milliseconds >= 0, and reading never throws.
 * A NaN or negative cooldown would put a key back at once (or never); a throw would fail the request.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { cooldownFromHeaders, parseDuration, parseRetryAfter } from '../src/retry-after.js'

const NAMES = [
  'retry-after-ms',
  'retry-after',
  ...['requests', 'tokens', 'input-tokens', 'output-tokens'].flatMap((l) => [`anthropic-ratelimit-${l}-reset`, `anthropic-ratelimit-${l}-remaining`]),
  ...['requests', 'tokens'].flatMap((l) => [`x-ratelimit-reset-${l}`, `x-rate-limit-reset-${l}`, `x-ratelimit-remaining-${l}`]),
]

// Epoch ms from the year 1000 to 9999: dates a header could name, far past and far future included.
const epoch = fc.integer({ min: -30_610_224_000_000, max: 253_402_300_799_000 })
// size 'max': lengths spread over the whole range (fast-check keeps strings short by default), so
// numbers past Number.MAX_VALUE (309 digits) come up.
const digits = (max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: max, size: 'max' })
const pad = (n: number, w: number) => String(Math.abs(n)).padStart(w, '0')

/** Strings shaped like each header's grammar, valid or nearly so: the parsers' regexes must cope with both. */
const nearValid = fc.oneof(
  digits(400), // delta-seconds up to 10^400: Number() gives Infinity
  fc.tuple(digits(320), digits(40)).map(([a, b]) => `${a}.${b}`),
  fc.double().map(String), // NaN, Infinity, -0, 1e+300, 5e-324
  fc.integer().map(String),
  epoch.map((t) => new Date(t).toUTCString()),
  epoch.map((t) => new Date(t).toISOString()),
  fc.tuple(epoch, fc.integer({ min: -99, max: 99 }), fc.integer({ min: 0, max: 99 })).map(([t, h, m]) => {
    const iso = new Date(t).toISOString().slice(0, 19)
    return `${iso}${h < 0 ? '-' : '+'}${pad(h, 2)}:${pad(m, 2)}`
  }),
  // Impossible calendar fields that still match the regexes: month 13, day 00, hour 99.
  fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(
    ([y, mo, d, h]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(h, 2)}:${pad(d, 2)}Z`,
  ),
  fc.tuple(fc.constantFrom('Mon', 'Sun', 'Foo'), fc.integer({ min: 0, max: 99 }), fc.constantFrom('Jan', 'Feb', 'Dec', 'Xyz'), fc.integer({ min: 0, max: 99999 })).map(
    ([day, d, mon, y]) => `${day}, ${pad(d, 2)} ${mon} ${pad(y, 4)} 25:61:61 GMT`,
  ),
  fc.tuple(fc.constantFrom('Monday', 'Sunday'), fc.integer({ min: 0, max: 99 })).map(([day, d]) => `${day}, ${pad(d, 2)}-Feb-${pad(d, 2)} 00:00:00 GMT`),
  fc.tuple(fc.constantFrom('Mon', 'Sun'), fc.integer({ min: 0, max: 99 })).map(([day, d]) => `${day} Feb ${d < 10 ? ' ' + d : pad(d, 2)} 23:59:60 9999`),
  // Go durations, huge or with every unit.
  fc.array(fc.tuple(fc.oneof(digits(320), fc.tuple(digits(5), digits(5)).map(([a, b]) => `${a}.${b}`)), fc.constantFrom('h', 'm', 's', 'ms', 'us', 'ns', '')), { minLength: 1, maxLength: 5 }).map(
    (parts) => parts.map(([n, u]) => n + u).join(''),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...' \t\r\n0123456789.:-+TZhms,GMTJan'), maxLength: 40 }),
)

const value = fc.oneof({ weight: 4, arbitrary: nearValid }, { weight: 1, arbitrary: fc.string({ unit: 'binary' }) })
const headerSet = fc.dictionary(fc.constantFrom(...NAMES), value, { maxKeys: NAMES.length })
const now = fc.oneof(fc.constant(Date.now()), epoch)

const NUM_RUNS = 3000

function expectCooldown(ms: number | undefined): void {
  if (ms === undefined) return
  expect(Number.isFinite(ms), `cooldown ${ms}`).toBe(true)
  expect(ms).toBeGreaterThanOrEqual(0)
}

describe('rate-limit headers never give a negative, NaN or infinite cooldown', () => {
  test('cooldownFromHeaders, any mix of headers and values', () => {
    fc.assert(
      fc.property(headerSet, now, (headers, at) => {
        expectCooldown(cooldownFromHeaders((name) => headers[name], at))
      }),
      { numRuns: NUM_RUNS },
    )
  })

  test('each header alone, with its limit exhausted', () => {
    fc.assert(
      fc.property(fc.constantFrom(...NAMES), value, now, (name, v, at) => {
        const headers: Record<string, string> = { [name]: v, [name.replace('reset', 'remaining')]: '0' }
        expectCooldown(cooldownFromHeaders((n) => headers[n], at))
      }),
      { numRuns: NUM_RUNS },
    )
  })

  test('Retry-After alone', () => {
    fc.assert(
      fc.property(value, now, (v, at) => expectCooldown(parseRetryAfter(v, at))),
      { numRuns: NUM_RUNS },
    )
  })

  test('x-ratelimit-reset-* durations alone', () => {
    fc.assert(
      fc.property(value, (v) => expectCooldown(parseDuration(v))),
      { numRuns: NUM_RUNS },
    )
  })
})

describe('well-formed headers give the wait they name', () => {
  test('Retry-After delta-seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (s) => {
        expect(cooldownFromHeaders((n) => (n === 'retry-after' ? String(s) : undefined), 0)).toBe(s * 1000)
      }),
    )
  })

  test('Retry-After HTTP-date: the time left, to the second, and 0 once past', () => {
    fc.assert(
      fc.property(epoch, epoch, (at, t) => {
        const ms = parseRetryAfter(new Date(at).toUTCString(), t)
        const whole = Math.floor(at / 1000) * 1000
        expect(ms).toBe(Math.max(0, whole - t))
      }),
    )
  })

  test('anthropic-ratelimit-*-reset: the reset of the exhausted limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400_000 }), fc.integer({ min: 0, max: 86_400_000 }), (a, b) => {
        const t = 1_800_000_000_000
        const headers: Record<string, string> = {
          'anthropic-ratelimit-requests-remaining': '5',
          'anthropic-ratelimit-requests-reset': new Date(t + a).toISOString(),
          'anthropic-ratelimit-tokens-remaining': '0',
          'anthropic-ratelimit-tokens-reset': new Date(t + b).toISOString(),
        }
        expect(cooldownFromHeaders((n) => headers[n], t)).toBe(b)
      }),
    )
  })

  test('x-ratelimit-reset-* in any combination of Go duration units', () => {
    fc.assert(
      fc.property(fc.nat(999), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
        const text = `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s${ms ? `${ms}ms` : ''}`
        expect(parseDuration(text)).toBe(((h * 60 + m) * 60 + s) * 1000 + ms)
      }),
    )
  })
})
