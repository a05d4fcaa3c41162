/**
 * The 0.x line of @anthropic-ai/sdk (still widely deployed) through the bridge: it sends its key as
 * `x-api-key` where 1.x sends `Authorization: Bearer`, and an older `anthropic-version`.
 */
import Anthropic from 'anthropic-sdk-0x'
import { expect, test } from 'vitest'
import { anthropicStreamEvents, byKey, dieAfter, providerAnswer, rateLimited } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('sdk0x1')
const K2 = testKey('sdk0x2')
const CLIENT = 'sk-client-sdk0x-credential-000000000'
const params = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Say hello' }] }

async function start() {
  const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } } })
  const baseURL = `${b.url}/anthropic`
  const pooled = new Anthropic({ baseURL, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': null, authorization: null }, maxRetries: 0 })
  const own = new Anthropic({ baseURL, apiKey: CLIENT, maxRetries: 0 })
  return { b, pooled, own }
}

test('centralized, streaming across a 429 failover: the second key serves, no client credential upstream', async () => {
  const { b, pooled } = await start()
  h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }, 'anthropic'), [K2]: providerAnswer('Hello via the second key') }))
  const text = await pooled.messages.stream(params).finalText()
  expect(text).toBe('Hello via the second key')
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
  expect(h.up.requests[1]!.headers.authorization).toBeUndefined()
  expect(h.up.requests[1]!.headers['anthropic-version']).toBe('2023-06-01')
  const [record] = await b.waitForRecords(1)
  expect(record).toMatchObject({ credentialKind: 'centralized', attempts: 2, outcome: 'ok', credentialHint: b.bridge.keyStates().anthropic![1]!.hint })
})

test('BYOK with x-api-key: one attempt with the client key, the pool untouched', async () => {
  const { b, own } = await start()
  h.up.handle(rateLimited({ 'retry-after': '12' }, 'anthropic'))
  const err = await own.messages.create(params).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(Anthropic.RateLimitError)
  expect(h.up.requests.map((s) => s.headers['x-api-key'])).toEqual([CLIENT])
  expect(b.bridge.keyStates().anthropic!.every((k) => k.state === 'valid')).toBe(true)
})

test('exhaustion is a RateLimitError carrying the bridge message', async () => {
  const { pooled } = await start()
  h.up.handle(rateLimited({ 'retry-after': '2' }, 'anthropic'))
  const err = await pooled.messages.create(params).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(Anthropic.RateLimitError)
  expect((err as Error).message).toContain('all 2 configured keys are rate-limited (retry after 2s)')
})

test('a stream cut mid-way is an APIError', async () => {
  const { pooled } = await start()
  const events = anthropicStreamEvents('never finished')
  h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, events[0]!, events[1]!))
  const cut = await pooled.messages
    .stream(params)
    .finalText()
    .catch((e: unknown) => e)
  expect(cut).toBeInstanceOf(Anthropic.APIError)
  expect((cut as Error).message).toContain('ended unexpectedly')
})
