// The official SDKs, the Vercel AI SDK and LangChain JS calling the pool in-process through
// bridge.fetch: across a failover, streaming and not, and an exhausted pool raising each client's own
// rate-limit error with the pool's Retry-After.
import { createAnthropic } from '@ai-sdk/anthropic'
import { createOpenAI } from '@ai-sdk/openai'
import Anthropic from '@anthropic-ai/sdk'
import { ChatAnthropic } from '@langchain/anthropic'
import { ChatOpenAI } from '@langchain/openai'
import { APICallError, generateText, streamText } from 'ai'
import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { byKey, providerAnswer, rateLimited, type Script } from '../../../test/support/upstream.js'
import { maskKey, type Bridge } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('fs1')
const K2 = testKey('fs2')
const REPLY = 'Hello via the second key'

async function bridge(): Promise<{ bridge: Bridge; waitForRecords: (n: number) => Promise<unknown[]> }> {
  return h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url }, openai: { keys: [K1, K2], baseURL: h.up.url } } })
}

const failover = (dialect: 'anthropic' | 'openai'): Script => byKey({ [K1]: rateLimited({ 'retry-after': '30' }, dialect), [K2]: providerAnswer(REPLY) })
const exhausted = (dialect: 'anthropic' | 'openai'): Script => rateLimited({ 'retry-after': '9' }, dialect)

/** Every upstream request went to K1 then K2 (one failover), and none carried the client's placeholder key. */
function expectFailedOver(): void {
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
  expect(h.up.requests[1]!.body.equals(h.up.requests[0]!.body)).toBe(true)
  expect(JSON.stringify(h.up.requests.map((s) => s.headers))).not.toContain('placeholder')
}

describe('openai through bridge.fetch', () => {
  const client = (b: Bridge) => new OpenAI({ apiKey: 'placeholder', fetch: b.fetch('openai'), maxRetries: 0 })
  const chat = { model: 'gpt-4.1', messages: [{ role: 'user' as const, content: 'Say hello' }] }

  test('non-streaming across a failover', async () => {
    const b = await bridge()
    h.up.handle(failover('openai'))
    const { data, response } = await client(b.bridge).chat.completions.create(chat).withResponse()
    expect(data.choices[0]!.message.content).toBe(REPLY)
    expect(response.headers.get('x-request-id')).toBe('req_openaiUpstream')
    expect(h.up.requests[0]!.url).toBe('/v1/chat/completions')
    expectFailedOver()
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ attempts: 2, outcome: 'ok', credentialKind: 'centralized', credentialHint: maskKey(K2), path: '/v1/chat/completions' })
  })

  test('streaming across a failover', async () => {
    const b = await bridge()
    h.up.handle(failover('openai'))
    const stream = await client(b.bridge).chat.completions.create({ ...chat, stream: true })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    expect(text).toBe(REPLY)
    expectFailedOver()
  })

  test('an exhausted pool raises RateLimitError with the Retry-After', async () => {
    const b = await bridge()
    h.up.handle(exhausted('openai'))
    const err = await client(b.bridge).chat.completions.create(chat).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('9')
    expect((err as Error).message).toContain('all 2 configured keys are rate-limited (retry after 9s)')
  })
})

describe('@anthropic-ai/sdk through bridge.fetch', () => {
  const client = (b: Bridge) => new Anthropic({ apiKey: 'placeholder', fetch: b.fetch('anthropic'), maxRetries: 0 })
  const params = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Say hello' }] }

  test('non-streaming across a failover', async () => {
    const b = await bridge()
    h.up.handle(failover('anthropic'))
    const message = await client(b.bridge).messages.create(params)
    expect(message.content).toEqual([{ type: 'text', text: REPLY }])
    expect(h.up.requests[0]!.url).toBe('/v1/messages')
    expect(h.up.requests[0]!.headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/)
    expectFailedOver()
  })

  test('streaming across a failover', async () => {
    const b = await bridge()
    h.up.handle(failover('anthropic'))
    const stream = client(b.bridge).messages.stream(params)
    const deltas: string[] = []
    stream.on('text', (t) => deltas.push(t))
    const final = await stream.finalMessage()
    expect(deltas.join('')).toBe(REPLY)
    expect(final.stop_reason).toBe('end_turn')
    expectFailedOver()
  })

  test('an exhausted pool raises RateLimitError with the Retry-After', async () => {
    const b = await bridge()
    h.up.handle(exhausted('anthropic'))
    const err = await client(b.bridge).messages.create(params).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.RateLimitError)
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('9')
    expect((err as Error).message).toContain('rate-limited (retry after 9s)')
  })

  test('an AbortSignal aborts the upstream request and the SDK raises its abort error', async () => {
    const b = await bridge()
    h.up.handle(() => {})
    const controller = new AbortController()
    const pending = client(b.bridge).messages.create(params, { signal: controller.signal }).catch((e: unknown) => e)
    const [seen] = await h.up.waitFor(1)
    controller.abort()
    expect(await pending).toBeInstanceOf(Anthropic.APIUserAbortError)
    await seen!.closed
    expect(seen!.aborted).toBe(true)
  })
})

describe('Vercel AI SDK through bridge.fetch', () => {
  const openai = (b: Bridge) => createOpenAI({ apiKey: 'placeholder', fetch: b.fetch('openai') })
  const anthropic = (b: Bridge) => createAnthropic({ apiKey: 'placeholder', fetch: b.fetch('anthropic') })

  test.each([
    ['@ai-sdk/openai (Responses API)', 'openai', (b: Bridge) => openai(b)('gpt-4.1'), '/v1/responses'],
    ['@ai-sdk/openai (Chat Completions)', 'openai', (b: Bridge) => openai(b).chat('gpt-4.1'), '/v1/chat/completions'],
    ['@ai-sdk/anthropic', 'anthropic', (b: Bridge) => anthropic(b)('claude-sonnet-4-6'), '/v1/messages'],
  ] as const)('%s: generateText and streamText across a failover', async (_name, dialect, model, path) => {
    const b = await bridge()
    h.up.handle(failover(dialect))
    const { text } = await generateText({ model: model(b.bridge), prompt: 'Say hello', maxRetries: 0 })
    expect(text).toBe(REPLY)
    expect(h.up.requests[0]!.url).toBe(path)
    expectFailedOver()

    b.bridge.resetKey(dialect, maskKey(K1))
    h.up.requests.length = 0
    const result = streamText({ model: model(b.bridge), prompt: 'Say hello', maxRetries: 0 })
    const deltas: string[] = []
    for await (const delta of result.textStream) deltas.push(delta)
    expect(deltas.join('')).toBe(REPLY)
    expect(deltas.length).toBeGreaterThan(1)
    expectFailedOver()
  })

  test.each([
    ['@ai-sdk/openai', 'openai', (b: Bridge) => openai(b)('gpt-4.1')],
    ['@ai-sdk/anthropic', 'anthropic', (b: Bridge) => anthropic(b)('claude-sonnet-4-6')],
  ] as const)('%s: an exhausted pool raises APICallError 429 with the Retry-After', async (_name, dialect, model) => {
    const b = await bridge()
    h.up.handle(exhausted(dialect))
    const err = await generateText({ model: model(b.bridge), prompt: 'Say hello', maxRetries: 0 }).catch((e: unknown) => e)
    expect(APICallError.isInstance(err)).toBe(true)
    const call = err as APICallError
    expect(call.statusCode).toBe(429)
    expect(call.responseHeaders?.['retry-after']).toBe('9')
    expect(call.isRetryable).toBe(true)
    expect(call.message).toContain('rate-limited (retry after 9s)')

    // streamText reports it as the stream's error part.
    const errors: unknown[] = []
    const result = streamText({ model: model(b.bridge), prompt: 'Say hello', maxRetries: 0, onError: ({ error }) => void errors.push(error) })
    for await (const _ of result.textStream) {
      // no text
    }
    expect(errors).toHaveLength(1)
    expect((errors[0] as APICallError).statusCode).toBe(429)
  })
})

describe('LangChain JS through bridge.fetch', () => {
  const chatOpenAI = (b: Bridge) => new ChatOpenAI({ model: 'gpt-4.1', apiKey: 'placeholder', maxRetries: 0, configuration: { fetch: b.fetch('openai') } })
  const chatAnthropic = (b: Bridge) => new ChatAnthropic({ model: 'claude-sonnet-4-6', apiKey: 'placeholder', maxRetries: 0, clientOptions: { fetch: b.fetch('anthropic') } })

  test.each([
    ['ChatOpenAI', 'openai', chatOpenAI, '/v1/chat/completions'],
    ['ChatAnthropic', 'anthropic', chatAnthropic, '/v1/messages'],
  ] as const)('%s: invoke and stream across a failover', async (_name, dialect, model, path) => {
    const b = await bridge()
    h.up.handle(failover(dialect))
    const message = await model(b.bridge).invoke('Say hello')
    expect(message.content).toBe(REPLY)
    expect(h.up.requests[0]!.url).toBe(path)
    expectFailedOver()

    b.bridge.resetKey(dialect, maskKey(K1))
    h.up.requests.length = 0
    let text = ''
    for await (const chunk of await model(b.bridge).stream('Say hello')) text += typeof chunk.content === 'string' ? chunk.content : ''
    expect(text).toBe(REPLY)
    expectFailedOver()
  })

  test.each([
    ['ChatOpenAI', 'openai', chatOpenAI],
    ['ChatAnthropic', 'anthropic', chatAnthropic],
  ] as const)("%s: an exhausted pool raises the provider SDK's RateLimitError, marked MODEL_RATE_LIMIT", async (_name, dialect, model) => {
    const b = await bridge()
    h.up.handle(exhausted(dialect))
    const err = (await model(b.bridge).invoke('Say hello').catch((e: unknown) => e)) as Error & { status?: number; headers?: Headers; lc_error_code?: string }
    expect(err.constructor.name).toBe('RateLimitError')
    expect(err.status).toBe(429)
    expect(err.headers?.get('retry-after')).toBe('9')
    expect(err.lc_error_code).toBe('MODEL_RATE_LIMIT')
  })
})
