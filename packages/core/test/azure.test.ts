import { describe, expect, test } from 'vitest'
import { azureClient } from '../../../test/support/clients.js'
import { post } from '../../../test/support/http.js'
import { byKey, json, openaiStreamEvents, providerAnswer, sse, type Script } from '../../../test/support/upstream.js'
import type { BridgeOptions } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('az1')
const K2 = testKey('az2')
const CLIENT = 'azure-client-own-key-DO-NOT-LEAK-0000'
const DEPLOYMENT = '/azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21'
const chat = { messages: [{ role: 'user', content: 'Say hello' }] }
const azure429 = { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 55 seconds.' } }
const azure401 = { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } }

async function azureBridge(extra: Partial<BridgeOptions> = {}) {
  const store = recordingStore()
  // A resource's endpoint with a path prefix, as behind an API gateway.
  const b = await h.start({ providers: { azure: { keys: [K1, K2], baseURL: `${h.up.url}/eastus` } }, store, ...extra })
  return { b, store }
}

const served: Script = (seen, res, req) => json(200, { served: seen.key === K2 ? 'K2' : 'K1' })(seen, res, req)

describe('azure requests', () => {
  test('both URL styles pass through with the query verbatim; the pool key goes in api-key', async () => {
    const { b } = await azureBridge()
    h.up.handle(served)
    await post(b.url, DEPLOYMENT, chat)
    await post(b.url, '/azure/openai/v1/chat/completions?api-version=preview', { model: 'gpt-4o', ...chat })
    await post(b.url, '/azure/openai/deployments/my%20model/embeddings?api-version=2024-10-21&x=a%2Bb&x=2', { input: 'x' })
    expect(h.up.requests.map((s) => s.url)).toEqual([
      '/eastus/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      '/eastus/openai/v1/chat/completions?api-version=preview',
      '/eastus/openai/deployments/my%20model/embeddings?api-version=2024-10-21&x=a%2Bb&x=2',
    ])
    for (const seen of h.up.requests) {
      expect(seen.headers['api-key']).toBe(K1)
      expect(seen.headers.authorization).toBeUndefined()
    }
  })

  test('a client api-key is BYOK; with byok false it is replaced by a pool key', async () => {
    const auto = await azureBridge()
    h.up.handle(served)
    await post(auto.b.url, DEPLOYMENT, chat, { 'api-key': CLIENT })
    expect(h.up.requests[0]!.headers['api-key']).toBe(CLIENT)
    const off = await azureBridge({ byok: false })
    await post(off.b.url, DEPLOYMENT, chat, { 'api-key': CLIENT, authorization: `Bearer ${CLIENT}` })
    expect(h.up.requests[1]!.headers['api-key']).toBe(K1)
    expect(JSON.stringify(h.up.requests[1]!.headers)).not.toContain(CLIENT)
  })
})

describe('azure failover', () => {
  test('a 429 cools the key for retry-after-ms; the next key serves', async () => {
    const { b, store } = await azureBridge()
    h.up.handle(byKey({ [K1]: json(429, azure429, { 'retry-after-ms': '55000', 'retry-after': '55' }), '*': served }))
    const r = await post(b.url, DEPLOYMENT, chat)
    expect(r.json()).toEqual({ served: 'K2' })
    expect(store.marks[0]).toMatchObject({ cooldownMs: 55_000, mark: { reason: 'rate_limited', status: 429 } })
  })

  test("a 429 with only Azure's bare-seconds x-ratelimit-reset-tokens", async () => {
    const { store, b } = await azureBridge()
    h.up.handle(byKey({ [K1]: json(429, azure429, { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '55' }), '*': served }))
    await post(b.url, DEPLOYMENT, chat)
    expect(store.marks[0]).toMatchObject({ cooldownMs: 55_000 })
  })

  test('a 401 takes the key out for good', async () => {
    const { b } = await azureBridge()
    h.up.handle(byKey({ [K1]: json(401, azure401), '*': served }))
    expect((await post(b.url, DEPLOYMENT, chat)).json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().azure![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed', status: 401 })
  })

  test("every key rate-limited: a 429 in OpenAI's shape with Retry-After", async () => {
    const { b } = await azureBridge()
    h.up.handle(json(429, azure429, { 'retry-after': '55' }))
    const r = await post(b.url, DEPLOYMENT, chat)
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('55')
    expect(r.json()).toEqual({
      error: { message: 'aibridge: all 2 configured keys are rate-limited (retry after 55s)', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    })
  })
})

describe("openai's AzureOpenAI client through bridge.handle", () => {
  test('chat completions across a failover, streaming and not', async () => {
    const { b } = await azureBridge()
    h.up.handle(byKey({ [K1]: json(429, azure429, { 'retry-after': '55' }), '*': providerAnswer('Hello via the second key') }))
    const client = azureClient(`${b.url}/azure`)
    const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }] })
    expect(completion.choices[0]!.message.content).toBe('Hello via the second key')
    expect(h.up.requests[0]!.url).toBe('/eastus/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])

    h.up.handle(sse(openaiStreamEvents('Hello streamed')))
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello' }], stream: true })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe('Hello streamed')
    expect(h.up.requests.at(-1)!.key).toBe(K2)
  })
})
