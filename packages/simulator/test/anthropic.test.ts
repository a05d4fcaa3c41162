import Anthropic from '@anthropic-ai/sdk'
import { describe, expect, test } from 'vitest'
import { A_HEADERS, A_KEY, anthropicClient, parseSSE, useSimulator } from './helpers/sim.js'

const h = useSimulator()

const messageBody = (text: string, stream = false) =>
  JSON.stringify({ model: 'claude-sim-1', max_tokens: 64, stream, messages: [{ role: 'user', content: text }] })

describe('Anthropic Messages through the official SDK', () => {
  test('a message echoes the last user text, with plausible usage and the request id', async () => {
    const client = anthropicClient(h.sim)
    const msg = await client.messages.create({
      model: 'claude-sim-1',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'first turn' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'second turn ✓' }] },
      ],
    })
    expect(msg.type).toBe('message')
    expect(msg.role).toBe('assistant')
    expect(msg.model).toBe('claude-sim-1')
    expect(msg.content).toEqual([{ type: 'text', text: 'Simulated reply to: second turn ✓' }])
    expect(msg.stop_reason).toBe('end_turn')
    expect(msg.usage.input_tokens).toBeGreaterThan(0)
    expect(msg.usage.output_tokens).toBeGreaterThan(0)
    expect(msg._request_id).toBe(`req_sim_${h.sim.requests[0]!.id}`)

    const [req] = h.sim.requests
    expect(req).toMatchObject({ provider: 'anthropic', method: 'POST', path: '/v1/messages', key: A_KEY, status: 200, aborted: false, fault: null })
    expect(req!.headers['anthropic-version']).toMatch(/^\d{4}-\d\d-\d\d$/)
  })

  test('a streamed message arrives over several text deltas and ends with end_turn', async () => {
    const client = anthropicClient(h.sim)
    const stream = client.messages.stream({ model: 'claude-sim-1', max_tokens: 64, messages: [{ role: 'user', content: 'stream this please' }] })
    const deltas: string[] = []
    stream.on('text', (t) => deltas.push(t))
    const final = await stream.finalMessage()
    expect(deltas.length).toBeGreaterThan(3)
    expect(deltas.join('')).toBe('Simulated reply to: stream this please')
    expect(final.content).toEqual([{ type: 'text', text: 'Simulated reply to: stream this please' }])
    expect(final.stop_reason).toBe('end_turn')
    expect(final.usage.output_tokens).toBeGreaterThan(1)
  })

  test('messages.create({stream: true}) yields the real event sequence', async () => {
    const client = anthropicClient(h.sim)
    const stream = await client.messages.create({ model: 'claude-sim-1', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'raw events' }] })
    const types: string[] = []
    for await (const event of stream) types.push(event.type)
    // The SDK drops `ping`; the raw test below checks it is there.
    expect(types[0]).toBe('message_start')
    expect(types[1]).toBe('content_block_start')
    expect(types.slice(2, -3).every((t) => t === 'content_block_delta')).toBe(true)
    expect(types.slice(2, -3).length).toBeGreaterThan(3)
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop'])
  })

  test('the raw stream: event lines, data JSON typed like its event, a ping, SSE headers', async () => {
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...A_HEADERS },
      body: messageBody('raw wire', true),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(res.headers.get('request-id')).toMatch(/^req_sim_\d+$/)
    const events = parseSSE(await res.text())
    for (const e of events) expect((e.data as { type: string }).type).toBe(e.event)
    expect(events.map((e) => e.event).filter((e) => e !== 'content_block_delta')).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
    const delta = events.find((e) => e.event === 'message_delta')!.data as { delta: { stop_reason: string }; usage: { output_tokens: number } }
    expect(delta.delta.stop_reason).toBe('end_turn')
    expect(delta.usage.output_tokens).toBeGreaterThan(0)
  })

  test('a success carries anthropic-ratelimit-* headers whose remaining count goes down', async () => {
    const send = () =>
      fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: A_HEADERS, body: messageBody('limits') })
    const first = await send()
    const second = await send()
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()])
    expect(Number(first.headers.get('anthropic-ratelimit-requests-limit'))).toBeGreaterThan(0)
    expect(Number(second.headers.get('anthropic-ratelimit-requests-remaining'))).toBe(Number(first.headers.get('anthropic-ratelimit-requests-remaining')) - 1)
    for (const limit of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
      const reset = first.headers.get(`anthropic-ratelimit-${limit}-reset`)
      expect(reset, limit).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      expect(Date.parse(reset!)).toBeGreaterThan(Date.now() - 1000)
    }
  })

  test('models.list pages through the list shape, and count_tokens answers', async () => {
    const client = anthropicClient(h.sim)
    const page = await client.models.list()
    expect(page.data.length).toBeGreaterThan(1)
    expect(page.data[0]).toMatchObject({ type: 'model' })
    expect(page.has_more).toBe(false)
    expect(page.first_id).toBe(page.data[0]!.id)
    expect(page.last_id).toBe(page.data.at(-1)!.id)
    const one = await client.models.retrieve(page.data[0]!.id)
    expect(one.id).toBe(page.data[0]!.id)

    const count = await client.messages.countTokens({ model: 'claude-sim-1', messages: [{ role: 'user', content: 'count me' }] })
    expect(count.input_tokens).toBeGreaterThan(0)
  })

  test('models.list honours limit, after_id and before_id: the SDK auto-pages through every model', async () => {
    const client = anthropicClient(h.sim)
    const all = (await client.models.list()).data.map((m) => m.id)
    const first = await client.models.list({ limit: 1 })
    expect(first.data.map((m) => m.id)).toEqual(all.slice(0, 1))
    expect(first.has_more).toBe(true)
    const paged: string[] = []
    for await (const m of client.models.list({ limit: 2 })) paged.push(m.id)
    expect(paged).toEqual(all)
    const before = await client.models.list({ before_id: all.at(-1)!, limit: 1 })
    expect(before.data.map((m) => m.id)).toEqual([all.at(-2)])
    expect(before.has_more).toBe(true)
    await expect(client.models.list({ limit: 0 })).rejects.toBeInstanceOf(Anthropic.BadRequestError)
  })

  test('the Bearer token of Authorization is accepted as the credential too', async () => {
    const client = new Anthropic({ baseURL: h.sim.anthropicBaseURL, apiKey: null, authToken: 'sk-test-bearer-cccc', maxRetries: 0 })
    await client.messages.create({ model: 'claude-sim-1', max_tokens: 8, messages: [{ role: 'user', content: 'bearer' }] })
    expect(h.sim.requests[0]!.key).toBe('sk-test-bearer-cccc')
  })
})

describe('Anthropic errors are shaped like the real API', () => {
  test('no credential: 401 authentication_error, and the SDK raises AuthenticationError', async () => {
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', body: messageBody('no key') })
    expect(res.status).toBe(401)
    expect(res.headers.get('request-id')).toMatch(/^req_sim_/)
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    expect(h.sim.requests[0]!.key).toBeNull()

    const client = new Anthropic({ baseURL: h.sim.anthropicBaseURL, apiKey: 'x', defaultHeaders: { 'x-api-key': null, authorization: null }, maxRetries: 0 })
    await expect(client.messages.create({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    )
  })

  test('an unknown route is a 404 not_found_error; a body that is not JSON is a 400', async () => {
    const res = await fetch(`${h.sim.anthropicBaseURL}/v1/nothing`, { headers: { 'x-api-key': A_KEY } })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } })

    const bad = await fetch(`${h.sim.anthropicBaseURL}/v1/messages`, { method: 'POST', headers: A_HEADERS, body: '{"model":' })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
  })
})
