import { describe, expect, test } from 'vitest'
import { geminiAnswer, geminiStreamEvents, googleError, keyInvalid400, perDay429, perMinute429 } from '../../../test/support/google.js'
import { post, rawSettled } from '../../../test/support/http.js'
import { byKey, dieAfter, json, sse, type Script } from '../../../test/support/upstream.js'
import type { BridgeOptions } from '../src/index.js'
import { nextPacificMidnight } from '../src/providers/pacific-time.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('gm1')
const K2 = testKey('gm2')
const CLIENT = 'AIzaSyClientOwnKey-DO-NOT-LEAK-000000000'
const GENERATE = '/gemini/v1beta/models/gemini-2.5-flash:generateContent'
const STREAM = '/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse'
const request = { contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }] }

async function geminiBridge(extra: Partial<BridgeOptions> = {}) {
  const store = recordingStore()
  const b = await h.start({ providers: { gemini: { keys: [K1, K2], baseURL: h.up.url } }, store, ...extra })
  return { b, store }
}

const served: Script = (seen, res, req) => json(200, geminiAnswer(seen.key === K2 ? 'from K2' : 'from K1'))(seen, res, req)
const textOf = (body: unknown) => (body as { candidates: Array<{ content: { parts: Array<{ text: string }> } }> }).candidates[0]!.content.parts[0]!.text

describe('gemini failover', () => {
  test('a 429 RESOURCE_EXHAUSTED cools the key for its RetryInfo delay; the next key serves', async () => {
    const { b, store } = await geminiBridge()
    h.up.handle(byKey({ [K1]: json(429, perMinute429('37s')), '*': served }))
    const r = await post(b.url, GENERATE, request)
    expect(r.status).toBe(200)
    expect(textOf(r.json())).toBe('from K2')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    expect(h.up.requests[0]!.headers['x-goog-api-key']).toBe(K1)
    expect(store.marks).toHaveLength(1)
    expect(store.marks[0]).toMatchObject({ cooldownMs: 37_000, mark: { reason: 'rate_limited', status: 429 } })
    expect(b.bridge.keyStates().gemini![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited', status: 429 })
  })

  test('a per-day quota takes the key out until midnight in Los Angeles', async () => {
    const { b, store } = await geminiBridge({ cooldowns: { maxMs: 26 * 3_600_000 } })
    h.up.handle(byKey({ [K1]: json(429, perDay429('12s')), '*': served }))
    expect((await post(b.url, GENERATE, request)).status).toBe(200)
    const [k1] = b.bridge.keyStates().gemini!
    expect(k1).toMatchObject({ state: 'temporary', reason: 'quota_exhausted', status: 429 })
    // The deadline is computed a moment before the mark is made.
    const { at } = store.marks[0]!.mark
    expect(Math.abs(k1!.until! - nextPacificMidnight(at))).toBeLessThan(1000)
  })

  test('the daily-quota cooldown is capped by cooldowns.maxMs', async () => {
    const { b, store } = await geminiBridge({ cooldowns: { maxMs: 60_000 } })
    h.up.handle(byKey({ [K1]: json(429, perDay429()), '*': served }))
    await post(b.url, GENERATE, request)
    expect(store.marks[0]).toMatchObject({ cooldownMs: 60_000, mark: { reason: 'quota_exhausted' } })
  })

  test('400 API_KEY_INVALID takes the key out for good; the next key serves', async () => {
    const { b } = await geminiBridge()
    h.up.handle(byKey({ [K1]: json(400, keyInvalid400()), '*': served }))
    const r = await post(b.url, GENERATE, request)
    expect(textOf(r.json())).toBe('from K2')
    expect(b.bridge.keyStates().gemini![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed', status: 400 })
  })

  test('any other 400 goes to the client as it is, and no key is marked', async () => {
    const { b, store } = await geminiBridge()
    const bad = googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unknown name "contnts": Cannot find field.')
    h.up.handle(json(400, bad))
    const r = await post(b.url, GENERATE, { contnts: [] })
    expect(r.status).toBe(400)
    expect(r.json()).toEqual(bad)
    expect(h.up.requests).toHaveLength(1)
    expect(store.marks).toHaveLength(0)
  })

  test('when every key is out the client gets a Google-shaped 429 with Retry-After and a RetryInfo', async () => {
    const { b } = await geminiBridge()
    h.up.handle(json(429, perMinute429('2.5s')))
    const r = await post(b.url, GENERATE, request)
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('3')
    expect(r.json()).toEqual({
      error: {
        code: 429,
        message: 'aibridge: all 2 configured keys are rate-limited (retry after 3s)',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }],
      },
    })
  })

  test('when every key failed authentication: 502 UNAVAILABLE, code 502', async () => {
    const { b } = await geminiBridge()
    h.up.handle(json(400, keyInvalid400('API_KEY_EXPIRED')))
    const r = await post(b.url, GENERATE, request)
    expect(r.status).toBe(502)
    expect(r.json()).toMatchObject({ error: { code: 502, status: 'UNAVAILABLE' } })
  })
})

describe('gemini credentials', () => {
  test('centralized: the pool key goes in x-goog-api-key and the query goes verbatim', async () => {
    const { b } = await geminiBridge()
    h.up.handle(sse(geminiStreamEvents('Hello there')))
    const r = await post(b.url, STREAM, request)
    expect(r.status).toBe(200)
    const seen = h.up.requests[0]!
    expect(seen.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse')
    expect(seen.headers['x-goog-api-key']).toBe(K1)
    expect(r.text).toBe(geminiStreamEvents('Hello there').join(''))
  })

  test('a client key in x-goog-api-key or key= is BYOK: it goes upstream and the pool is not used', async () => {
    const { b } = await geminiBridge()
    h.up.handle(served)
    await post(b.url, GENERATE, request, { 'x-goog-api-key': CLIENT })
    await post(b.url, `${STREAM}&key=${CLIENT}`, request)
    const [byHeader, byQuery] = h.up.requests
    expect(byHeader!.headers['x-goog-api-key']).toBe(CLIENT)
    expect(byQuery!.url).toBe(`/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${CLIENT}`)
    expect(byQuery!.headers['x-goog-api-key']).toBeUndefined()
    const records = await b.waitForRecords(2)
    expect(records.map((r) => r.credentialKind)).toEqual(['byok', 'byok'])
  })

  test('with byok false, the client key is stripped from the header and the query, and never recorded or logged', async () => {
    const { b } = await geminiBridge({ byok: false })
    h.up.handle(byKey({ [K1]: json(429, perMinute429('1s')), '*': served }))
    const r = await post(b.url, `/gemini/v1beta/models/gemini-2.5-flash:generateContent?key=${CLIENT}&alt=json&%6Bey=${CLIENT}`, request, {
      'x-goog-api-key': CLIENT,
    })
    expect(r.status).toBe(200)
    for (const seen of h.up.requests) {
      expect(seen.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent?alt=json')
      expect(JSON.stringify(seen.headers)).not.toContain(CLIENT)
    }
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ credentialKind: 'centralized', path: '/v1beta/models/gemini-2.5-flash:generateContent' })
    const everything = JSON.stringify(record) + b.logs.join('\n')
    expect(b.logs.length).toBeGreaterThan(0)
    expect(everything).not.toContain(CLIENT)
    expect(everything).not.toContain(K1)
    expect(everything).not.toContain(K2)
  })

  test('a BYOK key in the query never reaches a record or a log line either', async () => {
    const { b } = await geminiBridge()
    h.up.handle(json(400, keyInvalid400()))
    const r = await post(b.url, `${GENERATE}?key=${CLIENT}`, request)
    // BYOK answers are the client's own: nothing is classified or marked.
    expect(r.status).toBe(400)
    const [record] = await b.waitForRecords(1)
    expect(record!.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent')
    expect(JSON.stringify(record) + b.logs.join('\n')).not.toContain(CLIENT)
  })
})

describe('gemini streaming', () => {
  test('a stream cut mid-way ends with a bare Google error object after the whole events', async () => {
    const { b } = await geminiBridge()
    const [first, second] = geminiStreamEvents('Hello there friend')
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, first!, second!.slice(0, 20)))
    const r = await rawSettled(b.url, STREAM, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
    expect(r.status).toBe(200)
    expect(r.ended).toBe('end')
    expect(r.text.startsWith(first!)).toBe(true)
    const tail = r.text.slice(first!.length)
    expect(JSON.parse(tail)).toEqual({ error: { code: 502, message: 'aibridge: the provider stream ended unexpectedly', status: 'UNAVAILABLE' } })
  })
})
