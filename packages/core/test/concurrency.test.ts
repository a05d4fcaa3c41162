import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited, type Script } from '../../../test/support/upstream.js'
import { gate, until } from '../../../test/support/wait.js'
import { mergeMarks, type KeyMark } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('cc1')
const K2 = testKey('cc2')

/** A script that waits for `hold` before answering with `then`. */
const after = (hold: Promise<void>, then: Script): Script => async (seen, res, req) => {
  await hold
  return then(seen, res, req)
}

const ok = json(200, { ok: true })
const auth401 = json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })
const quota = json(429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } })

/**
 * Two requests reach the primary key at once; the upstream answers the first with `first`, waits
 * until that mark is in, then answers the second with `second`. Returns the primary's final state.
 */
async function race(first: Script, second: Script) {
  const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  const gateA = gate()
  const gateB = gate()
  h.up.queue(after(gateA.promise, first), after(gateB.promise, second))
  h.up.handle(byKey({ [K2]: ok }))
  const a = post(b.url, '/openai/v1/x', {})
  const c = post(b.url, '/openai/v1/x', {})
  await h.up.waitFor(2)
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K1])
  gateA.open()
  await until(() => b.bridge.keyStates().openai![0]!.state !== 'valid', 5000, () => 'the first mark')
  gateB.open()
  const [ra, rc] = await Promise.all([a, c])
  expect([ra.status, rc.status]).toEqual([200, 200])
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K1, K2, K2])
  return b.bridge.keyStates().openai![0]!
}

describe('concurrent requests marking the same key keep the longer cooldown', () => {
  test('long cooldown first, short second: the long one stays', async () => {
    const start = Date.now()
    const k1 = await race(rateLimited({ 'retry-after': '100' }), rateLimited({ 'retry-after': '5' }))
    expect(k1.state).toBe('temporary')
    expect(k1.until! - start).toBeGreaterThan(99_000)
  })

  test('short cooldown first, long second: the long one replaces it', async () => {
    const start = Date.now()
    const k1 = await race(rateLimited({ 'retry-after': '5' }), rateLimited({ 'retry-after': '100' }))
    expect(k1.until! - start).toBeGreaterThan(99_000)
  })

  test('a quota cooldown is not shortened by a later rate limit', async () => {
    const start = Date.now()
    const k1 = await race(quota, rateLimited({ 'retry-after': '5' }))
    expect(k1).toMatchObject({ state: 'temporary', reason: 'quota_exhausted' })
    expect(k1.until! - start).toBeGreaterThan(3_590_000)
  })

  test('a permanent mark is not downgraded by a later 429', async () => {
    const k1 = await race(auth401, rateLimited({ 'retry-after': '5' }))
    expect(k1).toMatchObject({ state: 'permanent', reason: 'auth_failed' })
  })

  test('ten concurrent 429s with different waits: the longest wins whatever the order', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    const release = gate()
    const waits = [3, 9, 1, 77, 2, 5, 8, 4, 6, 7]
    h.up.queue(...waits.map((s) => after(release.promise, rateLimited({ 'retry-after': String(s) }))))
    h.up.handle(byKey({ [K2]: ok }))
    const start = Date.now()
    const pending = waits.map(() => post(b.url, '/openai/v1/x', {}))
    await h.up.waitFor(10)
    release.open()
    const responses = await Promise.all(pending)
    expect(responses.every((r) => r.status === 200)).toBe(true)
    const k1 = b.bridge.keyStates().openai![0]!
    expect(k1.until! - start).toBeGreaterThan(76_000)
    expect(k1.until! - start).toBeLessThan(80_000)
  })
})

describe('mergeMarks', () => {
  const now = 1_000_000
  const mark = (state: KeyMark['state'], until: number): KeyMark => ({
    state,
    reason: state === 'permanent' ? 'auth_failed' : 'rate_limited',
    until,
    at: now,
  })

  test('later deadline wins between temporaries; permanent beats temporary; expired loses', () => {
    expect(mergeMarks(mark('temporary', now + 100), mark('temporary', now + 50), now).until).toBe(now + 100)
    expect(mergeMarks(mark('temporary', now + 50), mark('temporary', now + 100), now).until).toBe(now + 100)
    expect(mergeMarks(mark('permanent', Infinity), mark('temporary', now + 50), now).state).toBe('permanent')
    expect(mergeMarks(mark('temporary', now + 50), mark('permanent', Infinity), now).state).toBe('permanent')
    expect(mergeMarks(mark('permanent', now - 1), mark('temporary', now + 50), now).state).toBe('temporary')
    expect(mergeMarks(undefined, mark('temporary', now + 5), now).until).toBe(now + 5)
  })
})
