import { describe, expect, onTestFinished, test, vi } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('ex1')
const K2 = testKey('ex2')
const K3 = testKey('ex3')
const KEYS = [K1, K2, K3]

function expectNoKeyMaterial(text: string, hints: string[]): void {
  for (const k of KEYS) expect(text).not.toContain(k)
  for (const hint of hints) expect(text).not.toContain(hint)
}

describe('every key cooling: 429 with an honest Retry-After', () => {
  test('openai: smallest remaining cooldown, rounded up to whole seconds; OpenAI-shaped body', async () => {
    const b = await h.start({ providers: { openai: { keys: KEYS, baseURL: h.up.url } } })
    h.up.handle(
      byKey({
        [K1]: rateLimited({ 'retry-after-ms': '5200' }),
        [K2]: rateLimited({ 'retry-after-ms': '2500' }),
        [K3]: rateLimited({ 'retry-after': '40' }),
      }),
    )
    const r = await post(b.url, '/openai/v1/chat/completions', {})
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('3')
    expect(r.headers['content-type']).toMatch(/^application\/json/)
    const body = r.json()
    expect(Object.keys(body)).toEqual(['error'])
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(body.error.message).toContain('all 3 configured keys are rate-limited (retry after 3s)')
    expectNoKeyMaterial(r.text, b.bridge.keyStates().openai!.map((k) => k.hint))
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'exhausted', status: 429, attempts: 3 })
  })

  test('anthropic: Anthropic-shaped body', async () => {
    const b = await h.start({ providers: { anthropic: { keys: KEYS, baseURL: h.up.url } } })
    h.up.handle(rateLimited({ 'retry-after': '3' }, 'anthropic'))
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('3')
    const body = r.json()
    expect(body).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) } })
    expect(body.error.message).toContain('all 3 configured keys are rate-limited (retry after 3s)')
    expectNoKeyMaterial(r.text, b.bridge.keyStates().anthropic!.map((k) => k.hint))
  })

  test('a request while every key cools makes no upstream call', async () => {
    const b = await h.start({ providers: { openai: { keys: KEYS, baseURL: h.up.url } } })
    h.up.handle(rateLimited({ 'retry-after': '20' }))
    await post(b.url, '/openai/v1/x', {})
    expect(h.up.requests).toHaveLength(3)
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(429)
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(19)
    expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(20)
    expect(h.up.requests).toHaveLength(3)
    const records = await b.waitForRecords(2)
    expect(records[1]).toMatchObject({ outcome: 'exhausted', attempts: 0, keysTried: [] })
  })

  test('a single key: "the only configured key"', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(rateLimited({ 'retry-after': '2' }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(429)
    expect(r.json().error.message).toContain('the only configured key is rate-limited (retry after 2s)')
  })

  test('quota exhausted keys count as cooling: 429 with the quota cooldown', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(json(429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('3600')
    expect(r.json().error.message).toMatch(/credit or quota/)
  })

  test('some keys failed authentication, others cool: 429 for the cooling ones', async () => {
    const b = await h.start({ providers: { anthropic: { keys: KEYS, baseURL: h.up.url } } })
    h.up.handle(
      byKey({
        [K1]: json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }),
        [K2]: rateLimited({ 'retry-after': '4' }, 'anthropic'),
        [K3]: json(403, { type: 'error', error: { type: 'permission_error', message: 'no' } }),
      }),
    )
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('4')
    expect(r.json().error.type).toBe('rate_limit_error')
    expect(r.json().error.message).toContain('1 rate-limited')
    expect(r.json().error.message).toContain('2 failed authentication')
  })
})

describe('no key cooling, all out for good: 502', () => {
  test('openai: every key failed authentication', async () => {
    const b = await h.start({ providers: { openai: { keys: KEYS, baseURL: h.up.url } } })
    h.up.handle(json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(502)
    expect(r.headers['retry-after']).toBeUndefined()
    const body = r.json()
    expect(Object.keys(body)).toEqual(['error'])
    expect(body.error).toMatchObject({ type: 'server_error', message: expect.stringContaining('all 3 configured keys failed authentication') })
    expect(body.error).toHaveProperty('code')
    expectNoKeyMaterial(r.text, b.bridge.keyStates().openai!.map((k) => k.hint))
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'exhausted', status: 502 })
  })

  test('anthropic: every key failed authentication', async () => {
    const b = await h.start({ providers: { anthropic: { keys: KEYS, baseURL: h.up.url } } })
    h.up.handle(json(403, { type: 'error', error: { type: 'permission_error', message: 'forbidden' } }))
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(502)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('failed authentication') } })
    expectNoKeyMaterial(r.text, b.bridge.keyStates().anthropic!.map((k) => k.hint))
  })
})

describe('what a request met is what it is told', () => {
  test('a key whose cooldown ends while the request fails over is tried again, primary first', async () => {
    // A fake clock (Date only): the primary's cooldown ends while K2 answers, with no real waiting.
    vi.useFakeTimers({ toFake: ['Date'] })
    onTestFinished(() => void vi.useRealTimers())
    const b = await h.start({ providers: { openai: { keys: KEYS, baseURL: h.up.url } } })
    // The primary cools for 30 s; the next request finds it out and walks on to K2 and K3.
    h.up.queue(rateLimited({ 'retry-after-ms': '30000' }))
    await post(b.url, '/openai/v1/x', {})
    expect(b.bridge.keyStates().openai![0]!.state).toBe('temporary')
    h.up.handle(
      byKey({
        [K2]: async (seen, res, req) => {
          vi.setSystemTime(Date.now() + 31_000)
          await rateLimited({ 'retry-after': '30' })(seen, res, req)
        },
        [K3]: rateLimited({ 'retry-after': '30' }),
        [K1]: json(200, { served: 'K1' }),
      }),
    )
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(200)
    expect(r.json()).toEqual({ served: 'K1' })
    const hints = b.bridge.keyStates().openai!.map((k) => k.hint)
    const records = await b.waitForRecords(2)
    // Back in rotation by the time K2 failed, the primary comes before K3.
    expect(records[1]!.keysTried).toEqual([hints[1], hints[0]])
  })

  test('two keys failed authentication and one answered 429 with Retry-After: 0: 429, not "all failed authentication"', async () => {
    const b = await h.start({ providers: { openai: { keys: KEYS, baseURL: h.up.url } } })
    const unauthorized = json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })
    h.up.handle(byKey({ [K1]: unauthorized, [K2]: unauthorized, [K3]: rateLimited({ 'retry-after': '0' }) }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(429)
    expect(r.headers['x-should-retry']).toBeUndefined()
    expect(r.headers['retry-after']).toBe('1')
    expect(r.json().error.message).toContain('1 rate-limited, 2 failed authentication')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3])
  })
})
