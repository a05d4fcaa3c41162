import { ApiError } from '@google/genai'
import { describe, expect, test } from 'vitest'
import { geminiClient } from '../../../test/support/clients.js'
import { geminiAnswer, geminiStreamEvents, keyInvalid400, perMinute429 } from '../../../test/support/google.js'
import { byKey, dieAfter, json, sse, type Script } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('gsdk1')
const K2 = testKey('gsdk2')
const CLIENT = 'AIzaSyClientOwnKey-sdk-0000000000000000'
const params = { model: 'gemini-2.5-flash', contents: 'Say hello' }

async function bridge() {
  const b = await h.start({ providers: { gemini: { keys: [K1, K2], baseURL: h.up.url } } })
  return { b, ai: geminiClient(`${b.url}/gemini`) }
}

const second = (answer: Script): Script => byKey({ [K1]: json(429, perMinute429('30s')), [K2]: answer })

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ApiError)
  return err as ApiError
}

describe('@google/genai through bridge.handle', () => {
  test('centralized: the SDK sends no usable key, the pool key is injected', async () => {
    const { ai } = await bridge()
    h.up.handle(json(200, geminiAnswer('Hello there')))
    const response = await ai.models.generateContent(params)
    expect(response.text).toBe('Hello there')
    const seen = h.up.requests[0]!
    expect(seen.url).toMatch(/^\/v1(beta)?\/models\/gemini-2\.5-flash:generateContent$/)
    expect(seen.headers['x-goog-api-key']).toBe(K1)
  })

  test('non-streaming across a 429 with RetryInfo and across an invalid key', async () => {
    const { ai, b } = await bridge()
    h.up.handle(second(json(200, geminiAnswer('Hello via the second key'))))
    expect((await ai.models.generateContent(params)).text).toBe('Hello via the second key')
    expect(b.bridge.keyStates().gemini![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })

    b.bridge.resetKey('gemini', b.bridge.keyStates().gemini![0]!.id)
    h.up.handle(byKey({ [K1]: json(400, keyInvalid400()), [K2]: json(200, geminiAnswer('still served')) }))
    expect((await ai.models.generateContent(params)).text).toBe('still served')
    expect(b.bridge.keyStates().gemini![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed', status: 400 })
  })

  test('streaming across a failover', async () => {
    const { ai } = await bridge()
    h.up.handle(second(sse(geminiStreamEvents('Hello via the second key'))))
    const stream = await ai.models.generateContentStream(params)
    let text = ''
    for await (const chunk of stream) text += chunk.text ?? ''
    expect(text).toBe('Hello via the second key')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    expect(h.up.requests[1]!.url).toMatch(/^\/v1(beta)?\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse$/)
  })

  test('every key rate-limited: the SDK raises its own ApiError with status 429 and the RetryInfo', async () => {
    const { ai } = await bridge()
    h.up.handle(json(429, perMinute429('4s')))
    const err = await rejection(ai.models.generateContent(params))
    expect(err.status).toBe(429)
    const body = JSON.parse(err.message) as { error: { status: string; details: unknown[] } }
    expect(body.error.status).toBe('RESOURCE_EXHAUSTED')
    expect(body.error.details).toEqual([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '4s' }])
  })

  test('a stream cut mid-way: the SDK yields the whole events, then raises an ApiError', async () => {
    const { ai } = await bridge()
    const [first, second] = geminiStreamEvents('Hello there friend')
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, first!, second!.slice(0, 25)))
    const stream = await ai.models.generateContentStream(params)
    const texts: string[] = []
    const err = await rejection(
      (async () => {
        for await (const chunk of stream) texts.push(chunk.text ?? '')
      })(),
    )
    expect(texts).toEqual(['Hello'])
    expect(err.status).toBe(502)
    expect(err.message).toContain('got status: UNAVAILABLE')
    expect(err.message).toContain('aibridge: the provider stream ended unexpectedly')
  })

  test("BYOK: the SDK's own key goes upstream and the pool is not used", async () => {
    const b = await h.start({ providers: { gemini: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(json(200, geminiAnswer('yours')))
    const ai = geminiClient(`${b.url}/gemini`, CLIENT)
    expect((await ai.models.generateContent(params)).text).toBe('yours')
    expect(h.up.requests[0]!.headers['x-goog-api-key']).toBe(CLIENT)
    const [record] = await b.waitForRecords(1)
    expect(record!.credentialKind).toBe('byok')
  })
})
