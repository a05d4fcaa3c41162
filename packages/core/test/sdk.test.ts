import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { anthropicClient, openaiClient } from '../../../test/support/clients.js'
import { anthropicStreamEvents, byKey, dieAfter, openaiStreamEvents, providerAnswer, rateLimited, type Script } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('sdk1')
const K2 = testKey('sdk2')
const CLIENT = 'sk-client-sdk-credential-0000000000'

const params = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Say hello' }] }
const chat = { model: 'gpt-4.1', messages: [{ role: 'user' as const, content: 'Say hello' }] }

async function bridge() {
  const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url }, openai: { keys: [K1, K2], baseURL: h.up.url } } })
  return { b, anthropic: anthropicClient(`${b.url}/anthropic`), openai: openaiClient(`${b.url}/openai/v1`) }
}

const failover = (dialect: 'anthropic' | 'openai'): Script => byKey({ [K1]: rateLimited({ 'retry-after': '30' }, dialect), [K2]: providerAnswer('Hello via the second key') })

describe('@anthropic-ai/sdk through bridge.handle', () => {
  test('non-streaming, centralized: no credential sent by the client, the pool key injected', async () => {
    const { anthropic } = await bridge()
    h.up.handle(providerAnswer('Hello there'))
    const message = await anthropic.messages.create(params)
    expect(message.content).toEqual([{ type: 'text', text: 'Hello there' }])
    const seen = h.up.requests[0]!
    expect(seen.url).toBe('/v1/messages')
    expect(seen.headers['x-api-key']).toBe(K1)
    expect(seen.headers.authorization).toBeUndefined()
    expect(seen.headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/)
    expect(JSON.parse(seen.body.toString())).toMatchObject(params)
  })

  test('non-streaming across a failover', async () => {
    const { anthropic, b } = await bridge()
    h.up.handle(failover('anthropic'))
    const { data, response } = await anthropic.messages.create(params).withResponse()
    expect(data.content).toEqual([{ type: 'text', text: 'Hello via the second key' }])
    expect(response.headers.get('request-id')).toBe('req_011CUpstream')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    expect(h.up.requests[1]!.body.equals(h.up.requests[0]!.body)).toBe(true)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ attempts: 2, outcome: 'ok', upstreamRequestId: 'req_011CUpstream' })
  })

  test('streaming across a failover', async () => {
    const { anthropic } = await bridge()
    h.up.handle(failover('anthropic'))
    const stream = anthropic.messages.stream(params)
    const deltas: string[] = []
    stream.on('text', (t) => deltas.push(t))
    const final = await stream.finalMessage()
    expect(deltas.join('')).toBe('Hello via the second key')
    expect(final.stop_reason).toBe('end_turn')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
  })

  test('streaming with create({ stream: true })', async () => {
    const { anthropic } = await bridge()
    h.up.handle(providerAnswer('a b c'))
    const stream = await anthropic.messages.create({ ...params, stream: true })
    const types: string[] = []
    for await (const event of stream) types.push(event.type)
    expect(types).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'])
  })

  test('BYOK: a client with its own key is served with it, the pool untouched', async () => {
    const { b } = await bridge()
    h.up.handle(providerAnswer('byok'))
    const own = anthropicClient(`${b.url}/anthropic`, CLIENT)
    const message = await own.messages.create(params)
    expect(message.content[0]).toMatchObject({ text: 'byok' })
    // x-api-key from SDK 0.x, Authorization: Bearer from 1.x: either is the client's own.
    expect(h.up.requests[0]!.key).toBe(CLIENT)
    const [record] = await b.waitForRecords(1)
    expect(record!.credentialKind).toBe('byok')
  })

  test('BYOK: the upstream 429 reaches the SDK as is', async () => {
    const { b } = await bridge()
    h.up.handle(rateLimited({ 'retry-after': '12' }, 'anthropic'))
    const own = anthropicClient(`${b.url}/anthropic`, CLIENT)
    const err = await own.messages.create(params).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.RateLimitError)
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).message).toContain('per-minute rate limit')
    expect(h.up.requests).toHaveLength(1)
    expect(b.bridge.keyStates().anthropic!.every((k) => k.state === 'valid')).toBe(true)
  })

  test('exhaustion parses as a RateLimitError carrying the bridge message', async () => {
    const { anthropic } = await bridge()
    h.up.handle(rateLimited({ 'retry-after': '2' }, 'anthropic'))
    const err = (await anthropic.messages.create(params).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.RateLimitError>
    expect(err).toBeInstanceOf(Anthropic.RateLimitError)
    expect(err.status).toBe(429)
    expect(err.headers?.get('retry-after')).toBe('2')
    expect(err.message).toContain('all 2 configured keys are rate-limited (retry after 2s)')
    expect((err.error as { error: { type: string } }).error.type).toBe('rate_limit_error')
  })

  test('a stream that dies mid-way raises an error in the SDK', async () => {
    const { anthropic } = await bridge()
    const events = anthropicStreamEvents('never finished')
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, events[0]!, events[1]!))
    const stream = await anthropic.messages.create({ ...params, stream: true })
    const seen: string[] = []
    const err = await (async () => {
      for await (const event of stream) seen.push(event.type)
    })().catch((e: unknown) => e)
    expect(seen).toEqual(['message_start', 'content_block_start'])
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect((err as Error).message).toContain('ended unexpectedly')
  })

  test('a stream cut in the middle of an event raises the same APIError, not a JSON SyntaxError', async () => {
    const { anthropic } = await bridge()
    const events = anthropicStreamEvents('never finished')
    const half = events[2]!.slice(0, events[2]!.indexOf('"text_delta"') + 8)
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, events[0]!, events[1]!, half))
    const stream = await anthropic.messages.create({ ...params, stream: true })
    const seen: string[] = []
    const err = await (async () => {
      for await (const event of stream) seen.push(event.type)
    })().catch((e: unknown) => e)
    expect(seen).toEqual(['message_start', 'content_block_start'])
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect((err as Error).message).toContain('ended unexpectedly')
  })
})

describe('openai through bridge.handle', () => {
  test('non-streaming, centralized: no client credential sent, the pool key injected', async () => {
    const { openai } = await bridge()
    h.up.handle(providerAnswer('Hello there'))
    const completion = await openai.chat.completions.create(chat)
    expect(completion.choices[0]!.message.content).toBe('Hello there')
    const seen = h.up.requests[0]!
    expect(seen.url).toBe('/v1/chat/completions')
    expect(seen.headers.authorization).toBe(`Bearer ${K1}`)
    expect(JSON.stringify(seen.headers)).not.toContain('placeholder-not-sent')
  })

  test('non-streaming across a failover', async () => {
    const { openai } = await bridge()
    h.up.handle(failover('openai'))
    const { data, response } = await openai.chat.completions.create(chat).withResponse()
    expect(data.choices[0]!.message.content).toBe('Hello via the second key')
    expect(response.headers.get('x-request-id')).toBe('req_openaiUpstream')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
  })

  test('streaming across a failover', async () => {
    const { openai } = await bridge()
    h.up.handle(failover('openai'))
    const stream = await openai.chat.completions.create({ ...chat, stream: true })
    let text = ''
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(text).toBe('Hello via the second key')
    expect(finish).toBe('stop')
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
  })

  test('BYOK: a client with its own key', async () => {
    const { b } = await bridge()
    h.up.handle(providerAnswer('byok'))
    const own = openaiClient(`${b.url}/openai/v1`, CLIENT)
    const stream = await own.chat.completions.create({ ...chat, stream: true })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    expect(text).toBe('byok')
    expect(h.up.requests[0]!.headers.authorization).toBe(`Bearer ${CLIENT}`)
  })

  test('BYOK: the upstream 401 reaches the SDK as is', async () => {
    const { b } = await bridge()
    h.up.handle((_s, res) =>
      void res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'Incorrect API key provided: sk-clie***0000.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })),
    )
    const own = openaiClient(`${b.url}/openai/v1`, CLIENT)
    const err = (await own.chat.completions.create(chat).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.AuthenticationError>
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(err.code).toBe('invalid_api_key')
    expect(b.bridge.keyStates().openai!.every((k) => k.state === 'valid')).toBe(true)
  })

  test('exhaustion parses as a RateLimitError carrying the bridge message', async () => {
    const { openai } = await bridge()
    h.up.handle(rateLimited({ 'retry-after': '3' }))
    const err = (await openai.chat.completions.create(chat).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err.status).toBe(429)
    expect(err.message).toContain('all 2 configured keys are rate-limited (retry after 3s)')
    expect(err.type).toBe('rate_limit_error')
    expect(err.code).toBe('rate_limit_exceeded')
  })

  test('a stream that dies mid-way raises an error in the SDK', async () => {
    const { openai } = await bridge()
    const events = openaiStreamEvents('never finished')
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, events[0]!))
    const stream = await openai.chat.completions.create({ ...chat, stream: true })
    let chunks = 0
    const err = await (async () => {
      for await (const _ of stream) chunks++
    })().catch((e: unknown) => e)
    expect(chunks).toBe(1)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect((err as Error).message).toContain('ended unexpectedly')
  })

  test('a stream cut in the middle of an event raises the same APIError, not a JSON SyntaxError', async () => {
    const { openai } = await bridge()
    const events = openaiStreamEvents('never finished')
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, events[0]!, events[1]!.slice(0, 40)))
    const stream = await openai.chat.completions.create({ ...chat, stream: true })
    let chunks = 0
    const err = await (async () => {
      for await (const _ of stream) chunks++
    })().catch((e: unknown) => e)
    expect(chunks).toBe(1)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect((err as Error).message).toContain('ended unexpectedly')
  })
})

describe("byok: false with SDK clients that send a key", () => {
  test('the client key is replaced by the pool key for both SDKs', async () => {
    const b = await h.start({ byok: false, providers: { anthropic: { keys: [K1], baseURL: h.up.url }, openai: { keys: [K2], baseURL: h.up.url } } })
    h.up.handle(providerAnswer('pooled'))
    await anthropicClient(`${b.url}/anthropic`, CLIENT).messages.create(params)
    await openaiClient(`${b.url}/openai/v1`, CLIENT).chat.completions.create(chat)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    for (const s of h.up.requests) expect(JSON.stringify(s.headers)).not.toContain(CLIENT)
  })
})
