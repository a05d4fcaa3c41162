import Anthropic from '@anthropic-ai/sdk'
import { ApiError } from '@google/genai'
import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import type { StreamErrorKind } from '../src/types.js'
import { A_HEADERS, A_KEY, anthropicClient, azureClient, G_KEY, geminiClient, O_KEY, openaiClient, parseSSE, useSimulator, Z_KEY } from './helpers/sim.js'

const h = useSimulator()

/** Reads a stream to its end and returns what came before the error it raised. */
async function untilError<T>(stream: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = []
  try {
    for await (const item of stream) items.push(item)
  } catch (error) {
    return { items, error }
  }
  throw new Error(`the stream ended without an error after ${items.length} items`)
}

const anthropicParams = { model: 'claude-sim-1', max_tokens: 16, stream: true as const, messages: [{ role: 'user' as const, content: 'hi' }] }

describe('Anthropic: 200 text/event-stream whose first event is `event: error`', () => {
  const cases: [StreamErrorKind, string][] = [
    ['rate_limit', 'rate_limit_error'],
    ['unauthorized', 'authentication_error'],
    ['forbidden', 'permission_error'],
    ['overloaded', 'overloaded_error'],
    ['server_error', 'api_error'],
    ['quota', 'billing_error'],
  ]
  test.each(cases)('%s: the first event is an error of type %s, and the SDK raises it', async (error, type) => {
    h.sim.fault(A_KEY, { kind: 'stream_error', error }, { times: 1 })
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: A_HEADERS, body: JSON.stringify(anthropicParams) })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(res.headers.get('retry-after')).toBeNull()
    const events = parseSSE(await res.text())
    expect(events).toEqual([{ event: 'error', data: { type: 'error', error: { type, message: expect.any(String) }, request_id: expect.stringMatching(/^req_sim_/) } }])

    h.sim.fault(A_KEY, { kind: 'stream_error', error }, { times: 1 })
    const { items, error: raised } = await untilError(await anthropicClient(h.sim).messages.create(anthropicParams))
    expect(items).toEqual([])
    expect(raised).toBeInstanceOf(Anthropic.APIError)
    expect((raised as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type } })
    expect(h.sim.requests.map((r) => [r.status, r.fault])).toEqual([
      [200, 'stream_error'],
      [200, 'stream_error'],
    ])
  })

  test('afterEvents puts the error mid-stream; retry adds a wait header to the 200', async () => {
    h.sim.fault(A_KEY, { kind: 'stream_error', error: 'overloaded', afterEvents: 4, retry: 'retry-after', seconds: 9 })
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: A_HEADERS, body: JSON.stringify(anthropicParams) })
    expect(res.headers.get('retry-after')).toBe('9')
    const events = parseSSE(await res.text())
    expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'error'])

    const stream = anthropicClient(h.sim).messages.stream({ ...anthropicParams, stream: undefined })
    const texts: string[] = []
    stream.on('text', (t) => texts.push(t))
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError)
    expect(texts).toEqual(['Simulated '])
  })

  test('a request that is not streamed gets the same error as a status', async () => {
    h.sim.fault(A_KEY, { kind: 'stream_error', error: 'overloaded' }, { times: 1 })
    h.sim.fault(A_KEY, { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after', seconds: 4 }, { times: 1 })
    const client = anthropicClient(h.sim)
    const overloaded = await client.messages.create({ ...anthropicParams, stream: false }).catch((e: unknown) => e)
    expect(overloaded).toMatchObject({ status: 529, error: { error: { type: 'overloaded_error' } } })
    const limited = await client.messages.create({ ...anthropicParams, stream: false }).catch((e: unknown) => e)
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError)
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after')).toBe('4')
  })
})

describe('OpenAI Chat Completions: the first chunk is `data: {"error": ...}`', () => {
  const cases: [StreamErrorKind, string | null][] = [
    ['rate_limit', 'rate_limit_exceeded'],
    ['quota', 'insufficient_quota'],
    ['unauthorized', 'invalid_api_key'],
    ['forbidden', 'insufficient_permissions'],
    ['server_error', null],
  ]
  test.each(cases)('%s: code %s, raised by the SDK as an APIError', async (error, code) => {
    h.sim.fault(O_KEY, { kind: 'stream_error', error }, { times: 1 })
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}` },
      body: JSON.stringify({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res.status).toBe(200)
    const events = parseSSE(await res.text())
    expect(events).toEqual([{ event: null, data: { error: { message: expect.any(String), type: expect.any(String), param: null, code } } }])

    h.sim.fault(O_KEY, { kind: 'stream_error', error }, { times: 1 })
    const stream = await openaiClient(h.sim).chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'x' }] })
    const { items, error: raised } = await untilError(stream)
    expect(items).toEqual([])
    expect(raised).toBeInstanceOf(OpenAI.APIError)
    expect((raised as InstanceType<typeof OpenAI.APIError>).code).toBe(code)
  })

  test('mid-stream: the .stream() helper raises after the first chunks', async () => {
    h.sim.fault(O_KEY, { kind: 'stream_error', error: 'server_error', afterEvents: 2 })
    const stream = openaiClient(h.sim).chat.completions.stream({ model: 'gpt-sim', messages: [{ role: 'user', content: 'x' }] })
    const contents: string[] = []
    stream.on('content', (delta) => contents.push(delta))
    await expect(stream.finalChatCompletion()).rejects.toBeInstanceOf(OpenAI.APIError)
    expect(contents).toEqual(['Simulated '])
  })
})

describe('OpenAI Responses: the first event is `error` or `response.failed`', () => {
  test('error: {type, code, message, param, sequence_number}; the SDK sees it as the error event', async () => {
    h.sim.fault(O_KEY, { kind: 'stream_error', error: 'rate_limit' }, { times: 1 })
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}` },
      body: JSON.stringify({ model: 'gpt-sim', stream: true, input: 'x' }),
    })
    expect(parseSSE(await res.text())).toEqual([
      { event: 'error', data: { type: 'error', code: 'rate_limit_exceeded', message: expect.stringContaining('Rate limit'), param: null, sequence_number: 0 } },
    ])

    h.sim.fault(O_KEY, { kind: 'stream_error', error: 'quota' }, { times: 1 })
    const stream = await openaiClient(h.sim).responses.create({ model: 'gpt-sim', stream: true, input: 'x' })
    const events: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const e of stream) events.push(e)
    expect(events).toEqual([{ type: 'error', code: 'insufficient_quota', message: expect.any(String), param: null, sequence_number: 0 }])
    // The helper's final response never comes.
    h.sim.fault(O_KEY, { kind: 'stream_error', error: 'rate_limit' }, { times: 1 })
    await expect(openaiClient(h.sim).responses.stream({ model: 'gpt-sim', input: 'x' }).finalResponse()).rejects.toThrow()
  })

  test('response.failed: a failed response whose error has the code; mid-stream its sequence number follows', async () => {
    h.sim.fault(O_KEY, { kind: 'stream_error', error: 'rate_limit', responsesEvent: 'response.failed' }, { times: 1 })
    h.sim.fault(O_KEY, { kind: 'stream_error', error: 'server_error', responsesEvent: 'response.failed', afterEvents: 3 }, { times: 1 })
    const client = openaiClient(h.sim)
    const first: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const e of await client.responses.create({ model: 'gpt-sim', stream: true, input: 'x' })) first.push(e)
    expect(first).toEqual([
      expect.objectContaining({
        type: 'response.failed',
        sequence_number: 0,
        response: expect.objectContaining({ status: 'failed', error: { code: 'rate_limit_exceeded', message: expect.any(String) }, output: [] }),
      }),
    ])
    const later: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const e of await client.responses.create({ model: 'gpt-sim', stream: true, input: 'x' })) later.push(e)
    expect(later.map((e) => [e.type, e.sequence_number])).toEqual([
      ['response.created', 0],
      ['response.in_progress', 1],
      ['response.output_item.added', 2],
      ['response.failed', 3],
    ])
    expect((later.at(-1) as OpenAI.Responses.ResponseFailedEvent).response.error).toEqual({ code: 'server_error', message: expect.any(String) })
  })
})

describe('Gemini: an in-stream `data: {"error": ...}`', () => {
  test.each([
    ['rate_limit', 429, 'RESOURCE_EXHAUSTED'],
    ['quota', 429, 'RESOURCE_EXHAUSTED'],
    ['unauthorized', 400, 'INVALID_ARGUMENT'],
    ['forbidden', 403, 'PERMISSION_DENIED'],
    ['overloaded', 503, 'UNAVAILABLE'],
    ['server_error', 500, 'INTERNAL'],
  ] as [StreamErrorKind, number, string][])('%s: %i %s, raised by @google/genai as an ApiError with that status', async (error, code, status) => {
    h.sim.fault(G_KEY, { kind: 'stream_error', error, afterEvents: 1 }, { times: 1 })
    const res = await fetch(`${h.sim.geminiBaseURL}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': G_KEY },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
    })
    expect(res.status).toBe(200)
    const events = (await res.text()).split('\r\n\r\n').filter(Boolean)
    expect(events).toHaveLength(2)
    expect(JSON.parse(events[1]!.slice('data: '.length))).toMatchObject({ error: { code, status } })

    h.sim.fault(G_KEY, { kind: 'stream_error', error }, { times: 1 })
    const { items, error: raised } = await untilError(await geminiClient(h.sim).models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' }))
    expect(items).toEqual([])
    expect(raised).toBeInstanceOf(ApiError)
    expect((raised as ApiError).status).toBe(code)
  })

  test('in the JSON-array stream the error is the last element', async () => {
    h.sim.fault(G_KEY, { kind: 'stream_error', error: 'rate_limit', afterEvents: 2 })
    const res = await fetch(`${h.sim.geminiBaseURL}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': G_KEY },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
    })
    const list = (await res.json()) as unknown[]
    expect(list).toHaveLength(3)
    expect(list[2]).toMatchObject({ error: { code: 429 } })
  })
})

describe('Azure: the first chunk is `data: {"error": ...}` in its own shape', () => {
  test('the SDK raises it', async () => {
    h.sim.fault(Z_KEY, { kind: 'stream_error', error: 'rate_limit' })
    const stream = await azureClient(h.sim).chat.completions.create({ model: '', stream: true, messages: [{ role: 'user', content: 'x' }] })
    const { error } = await untilError(stream)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code: '429', message: expect.stringMatching(/Please retry after 2 seconds/) })
  })
})

test('a bad stream_error is refused when scripted', () => {
  expect(() => h.sim.fault(A_KEY, { kind: 'stream_error', error: 'nope' as never })).toThrow(/stream_error\.error must be one of rate_limit, quota/)
  expect(() => h.sim.fault(A_KEY, { kind: 'stream_error', error: 'quota', afterEvents: -1 })).toThrow(/stream_error\.afterEvents/)
  expect(() => h.sim.fault(A_KEY, { kind: 'stream_error', error: 'quota', responsesEvent: 'x' as never })).toThrow(/responsesEvent/)
  expect(() => h.sim.fault(A_KEY, { kind: 'stream_error', error: 'quota', retry: 'soon' as never })).toThrow(/stream_error\.retry must be one of/)
})
