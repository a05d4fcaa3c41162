import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai'
import { describe, expect, test } from 'vitest'
import { G_KEY, geminiClient, sleep, useSimulator } from './helpers/sim.js'

const h = useSimulator()

const MODEL = 'gemini-2.5-flash'
const generate = (text: string) => geminiClient(h.sim).models.generateContent({ model: MODEL, contents: text })

/** The error a call rejects with. */
async function rejection(call: Promise<unknown>): Promise<ApiError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ApiError)
  return err as ApiError
}

/** The JSON body an ApiError carries in its message (`got status: ... {json}` or `{json}`). */
function errorBody(err: ApiError): { error: { code: number; status: string; message: string; details?: Record<string, unknown>[] } } {
  return JSON.parse(err.message.slice(err.message.indexOf('{'))) as never
}

function post(path: string, body: unknown, headers: Record<string, string> = { 'x-goog-api-key': G_KEY }): Promise<Response> {
  return fetch(`${h.sim.geminiBaseURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
}

describe('Gemini through @google/genai', () => {
  test('generateContent echoes the last user text, with usageMetadata', async () => {
    const res = await generate('hello gemini')
    expect(res.text).toBe('Simulated reply to: hello gemini')
    expect(res.candidates![0]!.finishReason).toBe('STOP')
    expect(res.candidates![0]!.content!.role).toBe('model')
    expect(res.usageMetadata!.totalTokenCount).toBe(res.usageMetadata!.promptTokenCount! + res.usageMetadata!.candidatesTokenCount!)
    expect(res.modelVersion).toBe(MODEL)
    // The SDK's default API version (v1beta in 2.x, v1 in 3.x) names the path; each is served alike.
    expect(h.sim.requests[0]).toMatchObject({ provider: 'gemini', method: 'POST', key: G_KEY, status: 200 })
    expect(h.sim.requests[0]!.path).toMatch(new RegExp(`^/v1(beta)?/models/${MODEL}:generateContent$`))
    expect(h.sim.requests[0]!.headers['x-goog-api-key']).toBe(G_KEY)
    for (const apiVersion of ['v1', 'v1beta', 'v1alpha']) {
      const client = new GoogleGenAI({ apiKey: G_KEY, httpOptions: { baseUrl: h.sim.geminiBaseURL, apiVersion } })
      expect((await client.models.generateContent({ model: MODEL, contents: apiVersion })).text).toBe(`Simulated reply to: ${apiVersion}`)
      expect(h.sim.requests.at(-1)!.path).toBe(`/${apiVersion}/models/${MODEL}:generateContent`)
    }
  })

  test('generateContentStream: many chunks over SSE, the last with STOP and the full usage', async () => {
    const stream = await geminiClient(h.sim).models.generateContentStream({ model: MODEL, contents: 'stream gemini please' })
    const chunks: GenerateContentResponse[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(3)
    expect(chunks.map((c) => c.text).join('')).toBe('Simulated reply to: stream gemini please')
    expect(chunks.at(-1)!.candidates![0]!.finishReason).toBe('STOP')
    expect(chunks.slice(0, -1).every((c) => c.candidates![0]!.finishReason === undefined)).toBe(true)
    expect(chunks.at(-1)!.usageMetadata!.candidatesTokenCount).toBeGreaterThan(0)
    expect(h.sim.requests[0]!.path).toMatch(new RegExp(`^/v1(beta)?/models/${MODEL}:streamGenerateContent$`))
    expect(h.sim.requests[0]!.query).toBe('alt=sse')
  })

  test('on the wire: data-only SSE events separated by CRLF pairs', async () => {
    const res = await post(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, { contents: [{ role: 'user', parts: [{ text: 'wire' }] }] })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const raw = await res.text()
    const events = raw.split('\r\n\r\n').filter(Boolean)
    expect(events.length).toBeGreaterThan(3)
    for (const e of events) expect(e).toMatch(/^data: \{/)
    expect(events.map((e) => (JSON.parse(e.slice(6)) as GenerateContentResponse).candidates![0]!.content!.parts![0]!.text).join('')).toBe('Simulated reply to: wire')
  })

  test('without alt=sse the stream is one JSON array, sent element by element', async () => {
    const res = await post(`/v1beta/models/${MODEL}:streamGenerateContent`, { contents: [{ parts: [{ text: 'array' }] }] })
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const list = (await res.json()) as GenerateContentResponse[]
    expect(list.length).toBeGreaterThan(3)
    expect(list.map((r) => r.candidates![0]!.content!.parts![0]!.text).join('')).toBe('Simulated reply to: array')
  })

  test('the key may come as the key query parameter; models.list and get; countTokens', async () => {
    const res = await post(`/v1beta/models/${MODEL}:generateContent?key=${G_KEY}`, { contents: [{ parts: [{ text: 'by query' }] }] }, {})
    expect(res.status).toBe(200)
    expect(h.sim.requests[0]!.key).toBe(G_KEY)

    const client = geminiClient(h.sim)
    const names: string[] = []
    for await (const m of await client.models.list({ config: { pageSize: 2 } })) names.push(m.name!)
    expect(names.length).toBeGreaterThan(2)
    expect(names).toContain(`models/${MODEL}`)
    expect(h.sim.requests.filter((r) => /^\/v1(beta)?\/models$/.test(r.path)).length).toBeGreaterThan(1)
    const one = await client.models.get({ model: MODEL })
    expect(one.name).toBe(`models/${MODEL}`)
    const count = await client.models.countTokens({ model: MODEL, contents: 'count these' })
    expect(count.totalTokens).toBeGreaterThan(0)
  })

  test('tools: a functionCall part; a functionResponse is answered in text', async () => {
    const client = geminiClient(h.sim)
    const tools = [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }] }]
    const res = await client.models.generateContent({ model: MODEL, contents: 'Lyon', config: { tools } })
    expect(res.functionCalls).toEqual([{ name: 'get_weather', args: { city: 'Lyon' } }])
    const streamed: GenerateContentResponse[] = []
    for await (const c of await client.models.generateContentStream({ model: MODEL, contents: 'Lyon', config: { tools } })) streamed.push(c)
    expect(streamed.flatMap((c) => c.functionCalls ?? [])).toEqual([{ name: 'get_weather', args: { city: 'Lyon' } }])

    const answer = await client.models.generateContent({
      model: MODEL,
      config: { tools },
      contents: [
        { role: 'user', parts: [{ text: 'Lyon' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Lyon' } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { sky: 'clear' } } }] },
      ],
    })
    expect(answer.text).toBe('Simulated reply to tool result: {"sky":"clear"}')
  })
})

describe("Gemini errors are Google's", () => {
  test('rate_limit: 429 RESOURCE_EXHAUSTED with a per-minute QuotaFailure and RetryInfo, no wait header by default', async () => {
    h.sim.fault(G_KEY, { kind: 'rate_limit', seconds: 37 }, { times: 1 })
    const err = await rejection(generate('x'))
    expect(err.status).toBe(429)
    const { error } = errorBody(err)
    expect(error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' })
    expect(error.message).toContain('Please retry in 37s.')
    expect(error.details).toContainEqual({
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [expect.objectContaining({ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaDimensions: { location: 'global', model: MODEL } })],
    })
    expect(error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '37s' })

    h.sim.fault(G_KEY, { kind: 'rate_limit', retry: 'retry-after', seconds: 1.5 }, { times: 1 })
    const res = await post(`/v1beta/models/${MODEL}:generateContent`, { contents: [] })
    expect(res.headers.get('retry-after')).toBe('2')
    expect(((await res.json()) as { error: { details: unknown[] } }).error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.500s' })
  })

  test('quota: 429 whose QuotaFailure names a per-day quota', async () => {
    h.sim.fault(G_KEY, { kind: 'quota', seconds: 20 })
    const { error } = errorBody(await rejection(generate('x')))
    expect(error.status).toBe('RESOURCE_EXHAUSTED')
    const failure = error.details!.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.QuotaFailure') as { violations: { quotaId: string }[] }
    expect(failure.violations[0]!.quotaId).toBe('GenerateRequestsPerDayPerProjectPerModel-FreeTier')
    expect(error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '20s' })
  })

  test('unauthorized: 400 INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID; forbidden: 403 PERMISSION_DENIED', async () => {
    h.sim.fault(G_KEY, { kind: 'unauthorized' }, { times: 1 })
    h.sim.fault(G_KEY, { kind: 'forbidden' }, { times: 1 })
    const invalid = await rejection(generate('x'))
    expect(invalid.status).toBe(400)
    expect(errorBody(invalid).error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: 'API key not valid. Please pass a valid API key.',
      details: expect.arrayContaining([expect.objectContaining({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' })]),
    })
    const forbidden = await rejection(generate('x'))
    expect(forbidden.status).toBe(403)
    expect(errorBody(forbidden).error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED' })
  })

  test('server errors: 500 INTERNAL, 503 UNAVAILABLE; no key: 403; an unknown route: 404 NOT_FOUND', async () => {
    h.sim.fault(G_KEY, { kind: 'server_error' }, { times: 1 })
    h.sim.fault(G_KEY, { kind: 'server_error', status: 503 }, { times: 1 })
    expect(errorBody(await rejection(generate('x'))).error).toMatchObject({ code: 500, status: 'INTERNAL' })
    expect(errorBody(await rejection(generate('x'))).error).toMatchObject({ code: 503, status: 'UNAVAILABLE' })

    const noKey = await post(`/v1beta/models/${MODEL}:generateContent`, { contents: [] }, {})
    expect(noKey.status).toBe(403)
    expect(await noKey.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } })
    const unknown = await post('/v1beta/nothing', {})
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } })
  })
})

describe('Gemini delivery faults', () => {
  test('die_mid_stream: the SDK gets the first chunks, then raises', async () => {
    h.sim.fault(G_KEY, { kind: 'die_mid_stream', afterEvents: 2 })
    const texts: string[] = []
    await expect(
      (async () => {
        for await (const c of await geminiClient(h.sim).models.generateContentStream({ model: MODEL, contents: 'die' })) texts.push(c.text ?? '')
      })(),
    ).rejects.toThrow()
    expect(texts).toEqual(['Simulated ', 'reply '])
    expect(h.sim.requests).toHaveLength(1)
  })

  test('stall: the stream holds after one chunk until release()', async () => {
    h.sim.fault(G_KEY, { kind: 'stall', afterEvents: 1 })
    const texts: string[] = []
    const done = (async () => {
      for await (const c of await geminiClient(h.sim).models.generateContentStream({ model: MODEL, contents: 'stall' })) texts.push(c.text ?? '')
    })()
    await h.sim.waitFor((r) => r.status === 200)
    await sleep(150)
    expect(texts).toEqual(['Simulated '])
    h.sim.release()
    await done
    expect(texts.join('')).toBe('Simulated reply to: stall')
  })
})
