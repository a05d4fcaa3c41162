/**
 * The conformance suite: one list of scenarios, run against the plain Node handler and every adapter,
 * each mounted under a prefix and at the root, with the host's own body parser in front (the harness
 * is support/conformance.ts). Adding a scenario here adds it to every mount.
 */
import { ApiError } from '@google/genai'
import { expect, vi } from 'vitest'
import { nextPacificMidnight } from '../packages/core/src/providers/pacific-time.js'
import { anthropicClient, azureClient, azureV1Client, geminiClient, openaiClient } from './support/clients.js'
import { A1, A2, anthropicJson, CLIENT_KEY, conformance, G1, G2, json, messageBody, O1, O2, POOL_KEYS, watchMarks, Z1, Z2, type Scenario } from './support/conformance.js'
import { raw, readRest, readUntil } from './support/http.js'

const scenarios: Scenario[] = [
  {
    name: 'serves a request with the primary key and records its hint',
    async run(ctx) {
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('ping one') })
      expect(res.status).toBe(200)
      const body = (await res.json()) as { content: { text: string }[] }
      expect(body.content[0]!.text).toContain('ping one')
      expect(ctx.sim.requests).toHaveLength(1)
      expect(ctx.sim.requests[0]!.key).toBe(A1)
      expect(ctx.sim.requests[0]!.headers['anthropic-version']).toBe('2023-06-01')
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ provider: 'anthropic', method: 'POST', path: '/v1/messages', credentialKind: 'centralized', credentialHint: 'sk-a...1111', keysTried: ['sk-a...1111'], attempts: 1, status: 200, outcome: 'ok' })
      expect(record!.upstreamRequestId).toMatch(/^req_sim_/)
    },
  },
  {
    name: 'fails over on 429, replays the body byte for byte, and cools the key for as long as the provider said',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'rate_limit', retry: 'retry-after', seconds: 30 })
      const sent = messageBody('replay me: ünïcødé ✓ ' + 'x'.repeat(5000))
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: sent })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      const [first, second] = ctx.sim.requests
      expect([first!.key, second!.key]).toEqual([A1, A2])
      expect(first!.body.equals(Buffer.from(sent))).toBe(true)
      expect(second!.body.equals(Buffer.from(sent))).toBe(true)
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ credentialHint: 'sk-a...2222', keysTried: ['sk-a...1111', 'sk-a...2222'], attempts: 2, status: 200, outcome: 'ok' })
      const states = ctx.bridge.keyStates().anthropic!
      expect(states[0]).toMatchObject({ hint: 'sk-a...1111', state: 'temporary', reason: 'rate_limited' })
      const wait = states[0]!.until! - Date.now()
      expect(wait).toBeGreaterThan(25_000)
      expect(wait).toBeLessThanOrEqual(30_000)
      expect(states[1]).toMatchObject({ state: 'valid' })
    },
  },
  {
    name: 'fails over on 401 and takes the key out for good',
    async run(ctx) {
      ctx.sim.fault(O1, { kind: 'unauthorized' })
      const res = await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'auth?' }] }) })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([O1, O2])
      expect(ctx.sim.requests[1]!.headers.authorization).toBe(`Bearer ${O2}`)
      expect(ctx.bridge.keyStates().openai![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed' })
      // The next request goes straight to the second key.
      const again = await fetch(ctx.url('openai', '/v1/models'))
      expect(again.status).toBe(200)
      await again.arrayBuffer()
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([O1, O2, O2])
    },
  },
  {
    name: 'answers 429 in the Anthropic shape with an honest Retry-After when every key is cooling',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'rate_limit', retry: 'retry-after', seconds: 7 })
      ctx.sim.fault(A2, { kind: 'rate_limit', retry: 'retry-after-ms', seconds: 3 })
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('exhaust') })
      expect(res.status).toBe(429)
      expect(res.headers.get('retry-after')).toBe('3')
      const body = (await res.json()) as { type: string; error: { type: string; message: string } }
      expect(body.type).toBe('error')
      expect(body.error.type).toBe('rate_limit_error')
      expect(body.error.message).toContain('all 2 configured keys are rate-limited (retry after 3s)')
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ outcome: 'exhausted', status: 429, attempts: 2 })
    },
  },
  {
    name: 'answers in the OpenAI shape when every key is out: 429 while cooling, 502 when all failed authentication',
    async run(ctx) {
      ctx.sim.fault(O1, { kind: 'rate_limit', retry: 'openai-reset', seconds: 5 })
      ctx.sim.fault(O2, { kind: 'forbidden' })
      const res = await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: '{"model":"gpt-sim","messages":[]}' })
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBe(5)
      const body = (await res.json()) as { error: { type: string; message: string; code: string } }
      expect(body.error.type).toBe('rate_limit_error')
      expect(body.error.message).toMatch(/1 rate-limited, 1 failed authentication/)

      await ctx.remount({})
      ctx.sim.fault(O1, { kind: 'unauthorized' })
      ctx.sim.fault(O2, { kind: 'forbidden' })
      const res2 = await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: '{}' })
      expect(res2.status).toBe(502)
      expect(res2.headers.get('retry-after')).toBeNull()
      const body2 = (await res2.json()) as { error: { message: string } }
      expect(body2.error.message).toContain('all 2 configured keys failed authentication')
    },
  },
  {
    name: 'passes a 500 through untouched and marks nothing',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'server_error', status: 500 })
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('boom') })
      expect(res.status).toBe(500)
      const body = (await res.json()) as { error: { type: string } }
      expect(body.error.type).toBe('api_error')
      expect(ctx.sim.requests).toHaveLength(1)
      expect(ctx.bridge.keyStates().anthropic!.every((k) => k.state === 'valid')).toBe(true)
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ outcome: 'upstream_error', status: 500 })
    },
  },
  {
    name: 'BYOK: one attempt with the client credential, its 429 returned as is, the pool untouched',
    async run(ctx) {
      ctx.sim.fault(CLIENT_KEY, { kind: 'rate_limit', retry: 'retry-after', seconds: 9 })
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: { ...anthropicJson, 'x-api-key': CLIENT_KEY }, body: messageBody('mine') })
      expect(res.status).toBe(429)
      expect(res.headers.get('retry-after')).toBe('9')
      await res.arrayBuffer()
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([CLIENT_KEY])
      expect(ctx.bridge.keyStates().anthropic!.every((k) => k.state === 'valid')).toBe(true)
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ credentialKind: 'byok', credentialHint: null, keysTried: [], attempts: 1, status: 429 })
    },
  },
  {
    name: 'refuses a body over the limit with a provider-shaped 413 and no upstream call',
    async run(ctx) {
      await ctx.remount({ bodyLimit: 64 * 1024 })
      const big = JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'y'.repeat(100 * 1024) }] })
      const res = await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: big })
      expect(res.status).toBe(413)
      const body = (await res.json()) as { error: { message: string; type: string } }
      expect(body.error.message).toMatch(/limit/)
      expect(ctx.sim.requests).toHaveLength(0)
      // A body under the limit still goes through.
      const ok = await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'small' }] }) })
      expect(ok.status).toBe(200)
      await ok.arrayBuffer()
    },
  },
  {
    name: 'refuses hostile paths with 400 and no upstream call',
    async run(ctx) {
      const prefix = new URL(ctx.mounted.baseURL).pathname.replace(/\/$/, '')
      for (const hostile of ['/v1/../admin', '/v1/%2e%2e/admin', '/v1/%2E./x', '/v1%2fmessages', '/v1/..%2fx', '/v1/a%0d%0aX-Injected:%201', '/v1\\..\\x', '//evil.example/v1']) {
        const res = await raw(ctx.mounted.baseURL, `${prefix}/anthropic${hostile}`)
        expect(res.status, hostile).toBe(400)
        expect(res.json().error.type, hostile).toBe('invalid_request_error')
      }
      expect(ctx.sim.requests).toHaveLength(0)
    },
  },
  {
    name: 'passes the query string through verbatim',
    async run(ctx) {
      const res = await fetch(ctx.url('openai', '/v1/models?limit=2&after=a%20b&flag'))
      expect(res.status).toBe(200)
      await res.arrayBuffer()
      expect(ctx.sim.requests[0]!.path).toBe('/v1/models')
      expect(ctx.sim.requests[0]!.query).toBe('limit=2&after=a%20b&flag')
    },
  },
  {
    name: 'forwards a Content-Type that is empty or no media type as the client sent it (issue 15: Fastify answered 415)',
    async run(ctx) {
      const sent = messageBody('typed oddly')
      for (const type of ['', 'json']) {
        ctx.sim.reset()
        const res = await raw(ctx.mounted.baseURL, new URL(ctx.url('anthropic', '/v1/messages')).pathname, { method: 'POST', headers: { 'content-type': type }, body: sent })
        // The provider's answer, whatever it makes of the type: the mount did not answer for it.
        expect(ctx.sim.requests, `Content-Type: ${type}`).toHaveLength(1)
        expect(ctx.sim.requests[0]!.headers['content-type']).toBe(type)
        expect(ctx.sim.requests[0]!.body.toString('utf8')).toBe(sent)
        expect(res.status).not.toBe(415)
      }
      const records = await ctx.recorded(2)
      expect(records.map((r) => r.outcome)).not.toContain('rejected')
    },
  },
  {
    name: 'lets paths that name no provider fall through to the host app',
    async run(ctx, mount) {
      const res = await fetch(`${ctx.mounted.baseURL}/_host/ping`)
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({ host: mount.name })
      expect(ctx.sim.requests).toHaveLength(0)
    },
  },
  {
    name: 'streams SSE: the first event reaches the client while the provider is still sending',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'stall', afterEvents: 1 })
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('stream me', true) })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      expect(res.headers.get('cache-control')).toBe('no-cache, no-transform')
      expect(res.headers.get('x-accel-buffering')).toBe('no')
      expect(res.headers.get('content-encoding')).toBeNull()
      const reader = res.body!.getReader()
      const first = await readUntil(reader, 'message_start')
      expect(first).not.toContain('message_stop')
      expect(ctx.sim.requests[0]!.aborted).toBe(false)
      ctx.sim.release()
      const rest = await readRest(reader)
      expect(first + rest).toContain('event: message_stop')
      const [record] = await ctx.recorded(1)
      expect(record!.outcome).toBe('ok')
      expect(record!.firstByteMs).not.toBeNull()
    },
  },
  {
    name: "aborts the upstream request within a second of the client's disconnect",
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'stall', afterEvents: 1 })
      const controller = new AbortController()
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('abort me', true), signal: controller.signal })
      await readUntil(res.body!.getReader(), 'message_start')
      const upstream = ctx.sim.requests[0]!
      const t0 = Date.now()
      controller.abort()
      await ctx.sim.waitForAbort(upstream.id, 1000)
      expect(Date.now() - t0).toBeLessThan(1000)
      const [record] = await ctx.recorded(1)
      expect(record!.outcome).toBe('client_aborted')
      expect(ctx.sim.requests).toHaveLength(1)
    },
  },
  {
    name: 'never ends a stream cleanly when the provider dies mid-way',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'die_mid_stream', afterEvents: 2 }, { times: 1 })
      const res = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('die', true) })
      const text = await readRest(res.body!.getReader())
      expect(text).toContain('message_start')
      expect(text).toContain('event: error')
      expect(text).not.toContain('message_stop')
      const [record] = await ctx.recorded(1)
      expect(record!.outcome).toBe('truncated')

      ctx.sim.fault(A1, { kind: 'die_mid_stream' }, { times: 1 })
      const res2 = await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('die plain') })
      await expect(res2.arrayBuffer()).rejects.toThrow()
      const records = await ctx.recorded(2)
      expect(records[1]!.outcome).toBe('truncated')
    },
  },
  {
    name: 'serves concurrent requests across a failover without losing any',
    async run(ctx) {
      ctx.sim.fault(O1, { kind: 'rate_limit', retry: 'retry-after', seconds: 20 })
      const results = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const res = await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: `n${i}` }] }) })
          const body = (await res.json()) as { choices: { message: { content: string } }[] }
          return { status: res.status, text: body.choices[0]!.message.content }
        }),
      )
      results.forEach((r, i) => {
        expect(r.status).toBe(200)
        expect(r.text).toContain(`n${i}`)
      })
      const records = await ctx.recorded(12)
      expect(records.every((r) => r.credentialHint === 'sk-p...4444' && r.outcome === 'ok')).toBe(true)
    },
  },
  {
    name: 'no key appears in any response, whatever happened',
    async run(ctx) {
      const seen: string[] = []
      const capture = async (res: Response): Promise<void> => {
        seen.push(JSON.stringify([...res.headers]), await res.text().catch(() => ''))
      }
      await capture(await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('a') }))
      ctx.sim.fault(A1, { kind: 'unauthorized' })
      ctx.sim.fault(A2, { kind: 'rate_limit', retry: 'anthropic-reset', seconds: 4 })
      await capture(await fetch(ctx.url('anthropic', '/v1/messages'), { method: 'POST', headers: anthropicJson, body: messageBody('b') }))
      ctx.sim.fault(O1, { kind: 'quota' })
      await capture(await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: '{"model":"gpt-sim","messages":[]}' }))
      ctx.sim.fault(O2, { kind: 'die_mid_stream', afterEvents: 1 })
      await capture(await fetch(ctx.url('openai', '/v1/chat/completions'), { method: 'POST', headers: json, body: '{"model":"gpt-sim","stream":true,"messages":[]}' }))
      const refused = await raw(ctx.mounted.baseURL, `${new URL(ctx.mounted.baseURL).pathname.replace(/\/$/, '')}/openai/v1/%2e%2e/x`)
      seen.push(JSON.stringify({ status: refused.status, headers: refused.headers, body: refused.text }))
      expect(seen.join('\n')).toMatch(/rate-limited|credit|quota|failed authentication/)
      for (const key of POOL_KEYS) {
        expect(seen.join('\n')).not.toContain(key)
        // Nor a long enough piece of one to be useful.
        expect(seen.join('\n')).not.toContain(key.slice(8, 24))
      }
    },
  },
  {
    name: 'the Anthropic SDK works through the mount, streaming and not, across a failover',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'rate_limit', retry: 'retry-after', seconds: 30 })
      const client = anthropicClient(ctx.url('anthropic'))
      const msg = await client.messages.create({ model: 'claude-sim-1', max_tokens: 32, messages: [{ role: 'user', content: 'sdk hello' }] })
      expect(msg.content[0]).toMatchObject({ type: 'text' })
      expect((msg.content[0] as { text: string }).text).toContain('sdk hello')
      const stream = client.messages.stream({ model: 'claude-sim-1', max_tokens: 32, messages: [{ role: 'user', content: 'sdk stream' }] })
      const deltas: string[] = []
      stream.on('text', (t) => deltas.push(t))
      const final = await stream.finalMessage()
      expect(deltas.length).toBeGreaterThan(1)
      expect(deltas.join('')).toContain('sdk stream')
      expect(final.stop_reason).toBe('end_turn')
      const records = await ctx.recorded(2)
      expect(records.map((r) => r.credentialHint)).toEqual(['sk-a...2222', 'sk-a...2222'])
    },
  },
  {
    name: 'the OpenAI SDK works through the mount (chat and responses, streaming and not) across a failover',
    async run(ctx) {
      ctx.sim.fault(O1, { kind: 'unauthorized' })
      const client = openaiClient(ctx.url('openai', '/v1'))
      const chat = await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'chat hi' }] })
      expect(chat.choices[0]!.message.content).toContain('chat hi')
      const stream = await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'chat stream' }] })
      let text = ''
      let chunks = 0
      for await (const chunk of stream) {
        chunks++
        text += chunk.choices[0]?.delta?.content ?? ''
      }
      expect(chunks).toBeGreaterThan(1)
      expect(text).toContain('chat stream')
      const response = await client.responses.create({ model: 'gpt-sim', input: 'responses hi' })
      expect(response.output_text).toContain('responses hi')
      const rstream = await client.responses.create({ model: 'gpt-sim', input: 'responses stream', stream: true })
      let rtext = ''
      for await (const event of rstream) if (event.type === 'response.output_text.delta') rtext += event.delta
      expect(rtext).toContain('responses stream')
      expect(ctx.sim.requests.filter((r) => r.key === O1)).toHaveLength(1)
    },
  },
  {
    name: 'authenticate: host tokens accepted, refused and attributed, and BYOK beside them with x-aibridge-token',
    async run(ctx) {
      const TOKEN = 'gw-conformance-token-Qz81Lp0Mn2'
      await ctx.remount({ authenticate: async (token) => (token === TOKEN ? { id: 'user-1' } : null) })
      const params = { model: 'claude-sim-1', max_tokens: 16, messages: [{ role: 'user' as const, content: 'token' }] }
      const message = await anthropicClient(ctx.url('anthropic'), TOKEN).messages.create(params)
      expect(message.content[0]).toMatchObject({ type: 'text' })
      const refused = await anthropicClient(ctx.url('anthropic'), 'gw-not-a-token-at-all').messages.create(params).catch((e: unknown) => e)
      expect((refused as { status?: number }).status).toBe(401)
      // The client's own key in the provider header, the host token beside it: BYOK, attributed.
      const own = await fetch(ctx.url('anthropic', '/v1/messages'), {
        method: 'POST',
        headers: { ...json, 'anthropic-version': '2023-06-01', 'x-api-key': CLIENT_KEY, 'x-aibridge-token': TOKEN },
        body: messageBody('mine'),
      })
      await own.arrayBuffer()
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([A1, CLIENT_KEY])
      for (const r of ctx.sim.requests) expect(JSON.stringify(r.headers)).not.toContain(TOKEN)
      const records = await ctx.recorded(3)
      expect(records.map((r) => [r.status === 401 ? 401 : 'sent', r.outcome === 'rejected' ? 'rejected' : 'served', r.principal, r.credentialKind])).toEqual([
        ['sent', 'served', 'user-1', 'centralized'],
        [401, 'rejected', null, 'centralized'],
        [own.status === 401 ? 401 : 'sent', 'served', 'user-1', 'byok'],
      ])
      expect(JSON.stringify(ctx.records) + ctx.logs.join('\n')).not.toContain(TOKEN)
    },
  },
  {
    name: 'an SDK stream raises an error when the provider dies mid-way',
    async run(ctx) {
      ctx.sim.fault(O1, { kind: 'die_mid_stream', afterEvents: 2 })
      const client = openaiClient(ctx.url('openai', '/v1'))
      const stream = await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'die' }] })
      await expect(
        (async () => {
          for await (const _ of stream) void _
        })(),
      ).rejects.toThrow()
    },
  },
  {
    name: '@google/genai works through the mount, streaming and not, across a 429 whose RetryInfo sets the cooldown',
    async run(ctx) {
      const marks = watchMarks(ctx)
      ctx.sim.fault(G1, { kind: 'rate_limit', retry: 'retry-info', seconds: 37 })
      const ai = geminiClient(ctx.url('gemini'))
      const reply = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'gemini hello' })
      expect(reply.text).toContain('gemini hello')
      const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'gemini stream' })
      let text = ''
      let chunks = 0
      for await (const chunk of stream) {
        chunks++
        text += chunk.text ?? ''
      }
      expect(chunks).toBeGreaterThan(1)
      expect(text).toContain('gemini stream')
      // The first request failed over; the second went straight to the second key.
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([G1, G2, G2])
      expect(ctx.sim.requests[2]!.query).toBe('alt=sse')
      const state = ctx.bridge.keyStates().gemini![0]!
      expect(state).toMatchObject({ state: 'temporary', reason: 'rate_limited', status: 429 })
      // The cooldown is the retryDelay, to the millisecond.
      expect(state.until! - marks[0]!.at).toBe(37_000)
      const records = await ctx.recorded(2)
      expect(records.map((r) => [r.provider, r.keysTried.length, r.outcome])).toEqual([
        ['gemini', 2, 'ok'],
        ['gemini', 1, 'ok'],
      ])
    },
  },
  {
    name: '@google/genai across an invalid key (400 API_KEY_INVALID): the key is out for good; when none is left the SDK raises its own ApiError',
    async run(ctx) {
      ctx.sim.fault(G1, { kind: 'unauthorized' })
      const ai = geminiClient(ctx.url('gemini'))
      const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'after a bad key' })
      let text = ''
      for await (const chunk of stream) text += chunk.text ?? ''
      expect(text).toContain('after a bad key')
      expect(ctx.bridge.keyStates().gemini![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed', status: 400 })
      expect(ctx.bridge.keyStates().gemini![0]).not.toHaveProperty('until')

      ctx.sim.fault(G2, { kind: 'rate_limit', seconds: 9 })
      const err = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'none left' }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(ApiError)
      expect((err as ApiError).status).toBe(429)
      expect(JSON.parse((err as ApiError).message)).toMatchObject({ error: { status: 'RESOURCE_EXHAUSTED', details: [{ retryDelay: '9s' }] } })
    },
  },
  {
    name: "a Gemini per-day quota takes the key out until the next midnight in Los Angeles (across the end of daylight saving time)",
    async run(ctx) {
      // 01:30 PDT on the day clocks fall back: the next midnight is 23.5 hours away, in PST.
      const now = Date.UTC(2025, 10, 2, 8, 30)
      vi.useFakeTimers({ toFake: ['Date'], now })
      ctx.sim.fault(G1, { kind: 'quota', seconds: 12 })
      const reply = await geminiClient(ctx.url('gemini')).models.generateContent({ model: 'gemini-2.5-flash', contents: 'daily' })
      expect(reply.text).toContain('daily')
      const state = ctx.bridge.keyStates().gemini![0]!
      expect(state).toMatchObject({ state: 'temporary', reason: 'quota_exhausted', status: 429 })
      expect(state.until).toBe(Date.UTC(2025, 10, 3, 8, 0))
      expect(state.until).toBe(nextPacificMidnight(now))
    },
  },
  {
    name: "openai's AzureOpenAI works through the mount, deployment URLs and the v1 API, streaming and not, across a 429 whose retry-after-ms sets the cooldown",
    async run(ctx) {
      const marks = watchMarks(ctx)
      ctx.sim.fault(Z1, { kind: 'rate_limit', retry: 'retry-after-ms', seconds: 55 })
      const azure = azureClient(ctx.url('azure'))
      const chat = await azure.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'azure hi' }] })
      expect(chat.choices[0]!.message.content).toContain('azure hi')
      const stream = await azure.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'azure stream' }] })
      let text = ''
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
      expect(text).toContain('azure stream')
      const v1 = azureV1Client(ctx.url('azure', '/openai/v1'))
      const response = await v1.responses.create({ model: 'gpt-4o', input: 'v1 hi' })
      expect(response.output_text).toContain('v1 hi')
      const rstream = await v1.responses.create({ model: 'gpt-4o', input: 'v1 stream', stream: true })
      let rtext = ''
      for await (const event of rstream) if (event.type === 'response.output_text.delta') rtext += event.delta
      expect(rtext).toContain('v1 stream')

      expect(ctx.sim.requests.map((r) => [r.key, r.path, r.query])).toEqual([
        [Z1, '/openai/deployments/gpt-4o/chat/completions', 'api-version=2024-10-21'],
        [Z2, '/openai/deployments/gpt-4o/chat/completions', 'api-version=2024-10-21'],
        [Z2, '/openai/deployments/gpt-4o/chat/completions', 'api-version=2024-10-21'],
        [Z2, '/openai/v1/responses', 'api-version=preview'],
        [Z2, '/openai/v1/responses', 'api-version=preview'],
      ])
      const state = ctx.bridge.keyStates().azure![0]!
      expect(state).toMatchObject({ state: 'temporary', reason: 'rate_limited', status: 429 })
      expect(state.until! - marks[0]!.at).toBe(55_000)
    },
  },
  {
    name: 'an Azure pool spanning two resources fails over from one endpoint to the other with the replayed body',
    async run(ctx) {
      await ctx.remount({
        providers: {
          // No provider baseURL: each key brings its resource's endpoint.
          azure: { keys: [{ key: Z1, baseURL: ctx.sim.azureBaseURL }, { key: Z2, baseURL: ctx.sim2.azureBaseURL, headers: { 'x-ms-client-request-id': 'resource-2' } }] },
        },
      })
      ctx.sim.fault(Z1, { kind: 'rate_limit', seconds: 30 })
      const azure = azureClient(ctx.url('azure'))
      const content = 'across resources: ünïcødé ✓ ' + 'z'.repeat(3000)
      const chat = await azure.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] })
      expect(chat.choices[0]!.message.content).toContain('across resources')
      const [first] = ctx.sim.requests
      const [replayed] = ctx.sim2.requests
      expect([first!.key, replayed!.key]).toEqual([Z1, Z2])
      expect(replayed!.body.equals(first!.body)).toBe(true)
      expect(JSON.parse(replayed!.body.toString('utf8')).messages[0].content).toBe(content)
      expect(replayed!.path).toBe('/openai/deployments/gpt-4o/chat/completions')
      expect(replayed!.headers['x-ms-client-request-id']).toBe('resource-2')
      expect(first!.headers['x-ms-client-request-id']).toBeUndefined()
      expect(ctx.bridge.keyStates().azure!.map((k) => [k.origin, k.state])).toEqual([
        [ctx.sim.url, 'temporary'],
        [ctx.sim2.url, 'valid'],
      ])
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ provider: 'azure', attempts: 2, status: 200, outcome: 'ok' })
    },
  },
]

conformance(scenarios)
