import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { azureClient, parseSSE, useSimulator, Z_KEY } from './helpers/sim.js'

const h = useSimulator()

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'hello azure' }]

/** The error an SDK call rejects with. */
async function rejection(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OpenAI.APIError)
  return err as InstanceType<typeof OpenAI.APIError>
}

describe('Azure OpenAI through AzureOpenAI', () => {
  test('chat completions on a deployment, with api-version and api-key, and Azure content-filter results', async () => {
    const chat = await azureClient(h.sim).chat.completions.create({ model: '', messages })
    expect(chat.choices[0]!.message.content).toBe('Simulated reply to: hello azure')
    expect(chat.model).toBe('gpt-4o-prod')
    expect((chat as unknown as { prompt_filter_results: unknown[] }).prompt_filter_results).toHaveLength(1)
    expect(chat._request_id).toBe(`req_sim_${h.sim.requests[0]!.id}`)
    const [req] = h.sim.requests
    expect(req).toMatchObject({ provider: 'azure', method: 'POST', path: '/openai/deployments/gpt-4o-prod/chat/completions', query: 'api-version=2024-10-21', key: Z_KEY, status: 200 })
    expect(req!.headers['api-key']).toBe(Z_KEY)
    expect(req!.headers.authorization).toBeUndefined()
  })

  test('a stream opens with a choices-less chunk of prompt_filter_results, and the .stream() helper copes', async () => {
    const client = azureClient(h.sim)
    const stream = await client.chat.completions.create({ model: '', messages, stream: true })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks[0]!.choices).toEqual([])
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Simulated reply to: hello azure')
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
    const final = await client.chat.completions.stream({ model: '', messages }).finalChatCompletion()
    expect(final.choices[0]!.message.content).toBe('Simulated reply to: hello azure')
  })

  test('embeddings on a deployment (base64, as the SDK asks), and the v1 API with a Bearer key', async () => {
    const emb = await azureClient(h.sim, { deployment: 'embed-small' }).embeddings.create({ model: '', input: ['one', 'two'] })
    expect(emb.data.map((d) => d.embedding.length)).toEqual([256, 256])
    expect(emb.data[0]!.embedding).not.toEqual(emb.data[1]!.embedding)
    const norm = Math.hypot(...emb.data[0]!.embedding)
    expect(norm).toBeCloseTo(1, 4)
    expect(h.sim.requests[0]!.path).toBe('/openai/deployments/embed-small/embeddings')

    const v1 = new OpenAI({ baseURL: `${h.sim.azureBaseURL}/openai/v1`, apiKey: Z_KEY, maxRetries: 0 })
    const chat = await v1.chat.completions.create({ model: 'gpt-4o', messages })
    expect(chat.choices[0]!.message.content).toBe('Simulated reply to: hello azure')
    const response = await v1.responses.create({ model: 'gpt-4o', input: 'v1 responses' })
    expect(response.output_text).toBe('Simulated reply to: v1 responses')
    expect(h.sim.requests.slice(1).map((r) => [r.path, r.key])).toEqual([
      ['/openai/v1/chat/completions', Z_KEY],
      ['/openai/v1/responses', Z_KEY],
    ])
  })

  test('a deployments request without api-version, or to an unknown path, is a 404 "Resource not found"', async () => {
    const res = await fetch(`${h.sim.azureBaseURL}/openai/deployments/d/chat/completions`, { method: 'POST', headers: { 'api-key': Z_KEY }, body: JSON.stringify({ messages }) })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: { code: '404', message: 'Resource not found' } })
    const unknown = await fetch(`${h.sim.azureBaseURL}/openai/nothing?api-version=2024-10-21`, { headers: { 'api-key': Z_KEY } })
    expect(unknown.status).toBe(404)
  })
})

describe("Azure errors are Azure's", () => {
  test('rate_limit: 429 with both retry-after-ms and Retry-After by default, and the throttling message', async () => {
    h.sim.fault(Z_KEY, { kind: 'rate_limit', seconds: 6 })
    const err = await rejection(azureClient(h.sim).chat.completions.create({ model: '', messages }))
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect(err.headers!.get('retry-after')).toBe('6')
    expect(err.headers!.get('retry-after-ms')).toBe('6000')
    expect(err.code).toBe('429')
    expect(err.message).toMatch(/ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 .* Please retry after 6 seconds/)
  })

  test('unauthorized: 401 "Access denied due to invalid subscription key..."; forbidden: 403; quota: 429 asking for a day', async () => {
    h.sim.fault(Z_KEY, { kind: 'unauthorized' }, { times: 1 })
    h.sim.fault(Z_KEY, { kind: 'forbidden' }, { times: 1 })
    h.sim.fault(Z_KEY, { kind: 'quota' }, { times: 1 })
    const client = azureClient(h.sim)
    const unauthorized = await rejection(client.chat.completions.create({ model: '', messages }))
    expect(unauthorized).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(unauthorized.error).toEqual({
      code: '401',
      message: expect.stringMatching(/^Access denied due to invalid subscription key or wrong API endpoint\./),
    })
    expect(await rejection(client.chat.completions.create({ model: '', messages }))).toBeInstanceOf(OpenAI.PermissionDeniedError)
    const quota = await rejection(client.chat.completions.create({ model: '', messages }))
    expect(quota.status).toBe(429)
    expect(quota.headers!.get('retry-after')).toBe('86400')
    expect(quota.message).toMatch(/Please retry after 86400 seconds/)
  })

  test('no key: 401 "missing subscription key"; an error carries apim-request-id and x-should-retry: false', async () => {
    const res = await fetch(`${h.sim.azureBaseURL}/openai/deployments/d/chat/completions?api-version=2024-10-21`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(401)
    expect(res.headers.get('apim-request-id')).toMatch(/^req_sim_/)
    expect(res.headers.get('x-should-retry')).toBe('false')
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/missing subscription key/)
  })

  test('stream faults: die_mid_stream raises in the SDK; the raw stream has the data-only chunks', async () => {
    h.sim.fault(Z_KEY, { kind: 'die_mid_stream', afterEvents: 2 }, { times: 1 })
    const stream = await azureClient(h.sim).chat.completions.create({ model: '', messages, stream: true })
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow()
    const res = await fetch(`${h.sim.azureBaseURL}/openai/deployments/d/chat/completions?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'api-key': Z_KEY },
      body: JSON.stringify({ messages, stream: true }),
    })
    const events = parseSSE(await res.text())
    expect(events.at(-1)!.data).toBe('[DONE]')
    expect(events.every((e) => e.event === null)).toBe(true)
  })
})
