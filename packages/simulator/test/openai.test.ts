import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { O_KEY, openaiClient, parseSSE, useSimulator } from './helpers/sim.js'

const h = useSimulator()

describe('OpenAI Chat Completions through the official SDK', () => {
  test('a completion echoes the last user text, with usage and the request id', async () => {
    const client = openaiClient(h.sim)
    const chat = await client.chat.completions.create({
      model: 'gpt-sim',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'hello chat ü' }] },
      ],
    })
    expect(chat.object).toBe('chat.completion')
    expect(chat.model).toBe('gpt-sim')
    expect(chat.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Simulated reply to: hello chat ü' })
    expect(chat.choices[0]!.finish_reason).toBe('stop')
    expect(chat.usage!.total_tokens).toBe(chat.usage!.prompt_tokens + chat.usage!.completion_tokens)
    expect(chat._request_id).toBe(`req_sim_${h.sim.requests[0]!.id}`)
    expect(h.sim.requests[0]).toMatchObject({ provider: 'openai', method: 'POST', path: '/v1/chat/completions', key: O_KEY, status: 200 })
  })

  test('a streamed completion comes in several chunks; usage only with include_usage', async () => {
    const client = openaiClient(h.sim)
    const stream = await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'stream chat' }] })
    let text = ''
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) {
      chunks.push(chunk)
      text += chunk.choices[0]?.delta?.content ?? ''
    }
    expect(text).toBe('Simulated reply to: stream chat')
    expect(chunks.length).toBeGreaterThan(4)
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true)
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
    expect(chunks.some((c) => c.usage)).toBe(false)

    const withUsage = client.chat.completions.stream({
      model: 'gpt-sim',
      messages: [{ role: 'user', content: 'count usage' }],
      stream_options: { include_usage: true },
    })
    const final = await withUsage.finalChatCompletion()
    expect(final.choices[0]!.message.content).toBe('Simulated reply to: count usage')
    expect(final.usage!.completion_tokens).toBeGreaterThan(0)
  })

  test('the raw chat stream: data-only chunks and a final [DONE]', async () => {
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}` },
      body: JSON.stringify({ model: 'gpt-sim', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'wire' }] }),
    })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = parseSSE(await res.text())
    expect(events.every((e) => e.event === null)).toBe(true)
    expect(events.at(-1)!.data).toBe('[DONE]')
    const usageChunk = events.at(-2)!.data as { choices: unknown[]; usage: { total_tokens: number } }
    expect(usageChunk.choices).toEqual([])
    expect(usageChunk.usage.total_tokens).toBeGreaterThan(0)
    expect((events[0]!.data as { usage: unknown }).usage).toBeNull()
  })
})

describe('OpenAI Embeddings through the official SDK', () => {
  test('deterministic unit vectors, one per input; base64 (the SDK default) and float give the same numbers', async () => {
    const client = openaiClient(h.sim)
    const a = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] })
    expect(a.data.map((d) => d.index)).toEqual([0, 1])
    expect(a.data[0]!.embedding).toHaveLength(256)
    expect(Math.hypot(...a.data[0]!.embedding)).toBeCloseTo(1, 4)
    expect(a.usage.prompt_tokens).toBeGreaterThan(0)
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', encoding_format: 'float', dimensions: 256 })
    expect(floats.data[0]!.embedding).toEqual(a.data[0]!.embedding)
    const small = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', dimensions: 8 })
    expect(small.data[0]!.embedding).toHaveLength(8)
    expect(JSON.parse(h.sim.requests[0]!.body.toString()).encoding_format).toBe('base64')
  })
})

describe('OpenAI Responses through the official SDK', () => {
  test('a response has output_text echoing the input', async () => {
    const client = openaiClient(h.sim)
    const response = await client.responses.create({ model: 'gpt-sim', input: 'responses hello', instructions: 'be kind' })
    expect(response.object).toBe('response')
    expect(response.status).toBe('completed')
    expect(response.output_text).toBe('Simulated reply to: responses hello')
    expect(response.instructions).toBe('be kind')
    expect(response.usage!.total_tokens).toBeGreaterThan(0)

    const fromItems = await client.responses.create({
      model: 'gpt-sim',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'item input' }] }],
    })
    expect(fromItems.output_text).toBe('Simulated reply to: item input')
  })

  test('create({stream: true}) yields the real event sequence with increasing sequence numbers', async () => {
    const client = openaiClient(h.sim)
    const stream = await client.responses.create({ model: 'gpt-sim', input: 'responses stream', stream: true })
    const events: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const event of stream) events.push(event)
    const types = events.map((e) => e.type).filter((t) => t !== 'response.output_text.delta')
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []))
    expect(deltas.length).toBeGreaterThan(3)
    expect(deltas.join('')).toBe('Simulated reply to: responses stream')
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
  })

  test('responses.stream() accumulates the final response and emits text deltas', async () => {
    const client = openaiClient(h.sim)
    const stream = client.responses.stream({ model: 'gpt-sim', input: 'helper stream' })
    const deltas: string[] = []
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta))
    const final = await stream.finalResponse()
    expect(final.output_text).toBe('Simulated reply to: helper stream')
    expect(deltas.join('')).toBe(final.output_text)
    expect(final.status).toBe('completed')
  })

  test('the raw responses stream has an event line matching each data type', async () => {
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${O_KEY}` },
      body: JSON.stringify({ model: 'gpt-sim', stream: true, input: 'wire' }),
    })
    const events = parseSSE(await res.text())
    expect(events.length).toBeGreaterThan(8)
    for (const e of events) expect((e.data as { type: string }).type).toBe(e.event)
  })
})

describe('OpenAI models, headers and errors', () => {
  test('models.list and retrieve; x-request-id and x-ratelimit-* on a success', async () => {
    const client = openaiClient(h.sim)
    const { data, response } = await client.models.list().withResponse()
    expect(data.data.length).toBeGreaterThan(1)
    expect(data.data[0]).toMatchObject({ object: 'model', owned_by: 'system' })
    expect(response.headers.get('x-request-id')).toMatch(/^req_sim_\d+$/)
    expect(Number(response.headers.get('x-ratelimit-limit-requests'))).toBeGreaterThan(0)
    expect(Number(response.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(Number(response.headers.get('x-ratelimit-limit-requests')))
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?[\d.]+m?s$/)
    const model = await client.models.retrieve(data.data[0]!.id)
    expect(model.id).toBe(data.data[0]!.id)
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  test('no credential: 401 in the OpenAI error shape, and the SDK raises AuthenticationError', async () => {
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/chat/completions`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(401)
    expect(res.headers.get('x-request-id')).toMatch(/^req_sim_/)
    const body = (await res.json()) as { error: Record<string, unknown> }
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type'])
    expect(body.error.type).toBe('invalid_request_error')

    const client = new OpenAI({ baseURL: `${h.sim.openaiBaseURL}/v1`, apiKey: 'x', defaultHeaders: { authorization: null }, maxRetries: 0 })
    await expect(client.chat.completions.create({ model: 'm', messages: [] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  test('an unknown route is a 404 naming the method and path; paths outside both prefixes are 404 too', async () => {
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/embeddingz`, { method: 'POST', headers: { authorization: `Bearer ${O_KEY}` }, body: '{}' })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: { message: 'Invalid URL (POST /v1/embeddingz)', type: 'invalid_request_error' } })

    const outside = await fetch(`${h.sim.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${O_KEY}` }, body: '{}' })
    expect(outside.status).toBe(404)
    await outside.arrayBuffer()
    expect(h.sim.requests[1]).toMatchObject({ provider: 'openai', path: '/v1/chat/completions', status: 404 })
  })

  test('an x-api-key header is not an OpenAI credential', async () => {
    const res = await fetch(`${h.sim.openaiBaseURL}/v1/models`, { headers: { 'x-api-key': O_KEY } })
    expect(res.status).toBe(401)
    await res.arrayBuffer()
  })
})
