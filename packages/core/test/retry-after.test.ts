import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { cooldownFromHeaders, parseDuration, parseRetryAfter } from '../src/retry-after.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('ra1')
const K2 = testKey('ra2')

/** Sends one request whose first key gets a 429 with `headers`; returns the cooldown the key got. */
async function cooldownFor(
  headers: Record<string, string>,
  provider: 'openai' | 'anthropic' = 'openai',
  cooldowns: { rateLimitMs?: number; maxMs?: number } = {},
): Promise<{ cooldownMs: number; status: number }> {
  const store = recordingStore()
  const b = await h.start({ providers: { [provider]: { keys: [K1, K2], baseURL: h.up.url } }, store, cooldowns })
  h.up.handle(byKey({ [K1]: rateLimited(headers, provider), '*': json(200, { ok: true }) }))
  const r = await post(b.url, provider === 'openai' ? '/openai/v1/chat/completions' : '/anthropic/v1/messages', {})
  expect(store.marks).toHaveLength(1)
  expect(store.marks[0]!.mark).toMatchObject({ state: 'temporary', reason: 'rate_limited', status: 429 })
  return { cooldownMs: store.marks[0]!.cooldownMs, status: r.status }
}

describe('the cooldown a 429 gets, through real sockets', () => {
  test('retry-after-ms', async () => {
    expect(await cooldownFor({ 'retry-after-ms': '4200' })).toEqual({ cooldownMs: 4200, status: 200 })
  })

  test('Retry-After in delta-seconds', async () => {
    expect((await cooldownFor({ 'retry-after': '7' })).cooldownMs).toBe(7000)
  })

  test('Retry-After as an HTTP-date', async () => {
    const at = new Date(Date.now() + 30_000).toUTCString()
    const { cooldownMs } = await cooldownFor({ 'retry-after': at })
    // HTTP-dates have whole-second precision.
    expect(cooldownMs).toBeGreaterThan(28_500)
    expect(cooldownMs).toBeLessThanOrEqual(30_000)
  })

  test('retry-after-ms wins over Retry-After', async () => {
    expect((await cooldownFor({ 'retry-after-ms': '1500', 'retry-after': '90' })).cooldownMs).toBe(1500)
  })

  test('Retry-After wins over the provider reset headers', async () => {
    const reset = new Date(Date.now() + 50_000).toISOString()
    expect((await cooldownFor({ 'retry-after': '3', 'anthropic-ratelimit-requests-reset': reset }, 'anthropic')).cooldownMs).toBe(3000)
  })

  test('anthropic-ratelimit-*-reset: the reset of the exhausted limit', async () => {
    const now = Date.now()
    const { cooldownMs } = await cooldownFor(
      {
        'anthropic-ratelimit-requests-remaining': '10',
        'anthropic-ratelimit-requests-reset': new Date(now + 50_000).toISOString(),
        'anthropic-ratelimit-input-tokens-remaining': '0',
        'anthropic-ratelimit-input-tokens-reset': new Date(now + 20_000).toISOString(),
      },
      'anthropic',
    )
    expect(cooldownMs).toBeGreaterThan(19_000)
    expect(cooldownMs).toBeLessThanOrEqual(20_000)
  })

  test('anthropic-ratelimit-*-reset with no exhausted limit named: the latest reset', async () => {
    const now = Date.now()
    const { cooldownMs } = await cooldownFor(
      {
        'anthropic-ratelimit-requests-reset': new Date(now + 12_000).toISOString(),
        'anthropic-ratelimit-tokens-reset': new Date(now + 25_000).toISOString(),
      },
      'anthropic',
    )
    expect(cooldownMs).toBeGreaterThan(24_000)
    expect(cooldownMs).toBeLessThanOrEqual(25_000)
  })

  for (const [value, ms] of [
    ['6m0s', 360_000],
    ['1.5s', 1500],
    ['20ms', 20],
    ['1h2m3s', 3_723_000],
  ] as const) {
    test(`x-ratelimit-reset-requests: ${value}`, async () => {
      const { cooldownMs } = await cooldownFor({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': value, 'x-ratelimit-reset-tokens': '1ms' })
      expect(cooldownMs).toBe(ms)
    })
  }

  test('x-ratelimit-reset-tokens when the token limit is the exhausted one', async () => {
    const { cooldownMs } = await cooldownFor({
      'x-ratelimit-remaining-requests': '99',
      'x-ratelimit-reset-requests': '120ms',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '7.5s',
    })
    expect(cooldownMs).toBe(7500)
  })

  test('no header: 60 s', async () => {
    expect((await cooldownFor({})).cooldownMs).toBe(60_000)
  })

  test('no header: cooldowns.rateLimitMs', async () => {
    expect((await cooldownFor({}, 'openai', { rateLimitMs: 4_000 })).cooldownMs).toBe(4_000)
  })

  test('a bogus wait is capped at 24 h, or at cooldowns.maxMs', async () => {
    expect((await cooldownFor({ 'retry-after': '999999999999' })).cooldownMs).toBe(86_400_000)
    expect((await cooldownFor({ 'retry-after-ms': '90000' }, 'anthropic', { maxMs: 30_000 })).cooldownMs).toBe(30_000)
  })

  test('unparseable values in every header fall back to the default and the request still fails over', async () => {
    const { cooldownMs, status } = await cooldownFor({
      'retry-after-ms': 'soon',
      'retry-after': 'Someday, 99 Foo 2999 99:99:99 GMT',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '6 minutes',
      'x-ratelimit-reset-tokens': '-1s',
    })
    expect(status).toBe(200)
    expect(cooldownMs).toBe(60_000)
  })

  test('unparseable anthropic reset timestamps fall back to the default', async () => {
    const { cooldownMs, status } = await cooldownFor(
      { 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': 'not-a-date' },
      'anthropic',
    )
    expect(status).toBe(200)
    expect(cooldownMs).toBe(60_000)
  })
})

describe('parsers', () => {
  const now = Date.parse('2025-01-01T00:00:00Z')

  test('parseRetryAfter: delta-seconds, decimal, HTTP-date, past date', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('1.5', now)).toBe(1500)
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0)
    // The obsolete forms RFC 9110 section 5.6.7 says a recipient accepts; asctime is UTC.
    expect(parseRetryAfter('Wednesday, 01-Jan-25 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Wed Jan  1 00:00:30 2025', now)).toBe(30_000)
  })

  test('parseRetryAfter: only an HTTP-date is a date, not what a lenient date parser accepts', () => {
    for (const v of ['May 5', 'Jan 1 2030', '2030-01-01', '2030-01-01T00:00:00Z', 'Wed, 99 Foo 2030 00:00:00 GMT', 'tomorrow 10:00', 'Wed, 01 Jan 2030']) {
      expect(parseRetryAfter(v, now), v).toBeUndefined()
    }
  })

  test('parseRetryAfter: garbage is undefined, never a throw', () => {
    for (const v of ['', 'soon', '-5', '1e3', '0x10', 'NaN', 'Infinity', '9'.repeat(400), '12 34', '2025-13-45', '\u0000']) {
      expect(() => parseRetryAfter(v, now)).not.toThrow()
      expect(parseRetryAfter(v, now), v).toBeUndefined()
    }
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })

  test('parseDuration: OpenAI reset durations', () => {
    expect(parseDuration('6m0s')).toBe(360_000)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('20ms')).toBe(20)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration('2m30.5s')).toBe(150_500)
    expect(parseDuration(' 3s ')).toBe(3000)
  })

  test('parseDuration: garbage is undefined, never a throw', () => {
    for (const v of ['', '5', 's', '1.5', '-1s', '1d', '1s2', 'ms', '6 m', 'one second', '1e3s', '1s1s', '3m2h', '1m1m', '5ms1s']) {
      expect(() => parseDuration(v)).not.toThrow()
      expect(parseDuration(v), v).toBeUndefined()
    }
    expect(parseDuration(undefined)).toBeUndefined()
  })

  test('cooldownFromHeaders: header order, and undefined when nothing parses', () => {
    const get = (h: Record<string, string>) => (name: string) => h[name]
    expect(cooldownFromHeaders(get({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250)
    expect(cooldownFromHeaders(get({ 'retry-after-ms': 'x', 'retry-after': '9' }), now)).toBe(9000)
    expect(
      cooldownFromHeaders(get({ 'anthropic-ratelimit-tokens-reset': '2025-01-01T00:00:05Z', 'x-ratelimit-reset-requests': '1s' }), now),
    ).toBe(5000)
    expect(cooldownFromHeaders(get({ 'x-ratelimit-reset-requests': '1s' }), now)).toBe(1000)
    expect(cooldownFromHeaders(get({}), now)).toBeUndefined()
    expect(cooldownFromHeaders(get({ 'retry-after': 'garbage', 'x-ratelimit-reset-requests': 'garbage' }), now)).toBeUndefined()
  })

  // Found by cooldown-always-finite.property.test.ts: seconds that fit a number but not once made
  // milliseconds gave an Infinity cooldown.
  test('cooldownFromHeaders: seconds too large for milliseconds are no answer, not Infinity', () => {
    const get = (h: Record<string, string>) => (name: string) => h[name]
    const huge = '1' + '0'.repeat(306)
    expect(cooldownFromHeaders(get({ 'retry-after': huge }), now)).toBeUndefined()
    expect(cooldownFromHeaders(get({ 'x-ratelimit-reset-requests': huge, 'x-ratelimit-remaining-requests': '0' }), now)).toBeUndefined()
    expect(cooldownFromHeaders(get({ 'x-rate-limit-reset-tokens': huge }), now)).toBeUndefined()
  })
})
