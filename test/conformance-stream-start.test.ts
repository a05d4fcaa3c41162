/**
 * Conformance (issue 12, part 1): a streamed answer whose first event is an error is judged as the
 * status it stands for, on every mount. A key's fault fails over before the client sees a byte: the
 * body is replayed on the next key, the client gets that key's stream alone, the record shows both
 * attempts and the key is marked as for the status. Anything else (overloaded, a server error) is
 * relayed untouched: one attempt, no mark.
 */
import { maskKey } from '@aibridge/core'
import type { Fault } from '@aibridge/simulator'
import { expect } from 'vitest'
import { A1, A2, anthropicJson, conformance, G1, G2, json, O1, O2, type Ctx, type ProviderName, type Scenario } from './support/conformance.js'

type StreamError = Extract<Fault, { kind: 'stream_error' }>

/** A streaming API as a client calls it through the bridge, and what its normal stream looks like. */
interface Api {
  name: string
  provider: ProviderName
  keys: readonly [string, string]
  path: string
  headers: Record<string, string>
  body(text: string): string
  /** Throws unless `text` is one whole, normal stream (no error in it) answering `prompt`. */
  served(text: string, prompt: string): void
  /** The simulator's request id header, `req_sim_<n>` (Gemini's API has none). */
  requestIdHeader?: string
  /** The simulator path for the same request sent straight to it, with the key's header. */
  direct(ctx: Ctx, key: string): { url: string; headers: Record<string, string> }
}

const count = (text: string, part: string): number => text.split(part).length - 1

const anthropic: Api = {
  name: 'Anthropic Messages',
  provider: 'anthropic',
  keys: [A1, A2],
  path: '/v1/messages',
  headers: anthropicJson,
  body: (text) => JSON.stringify({ model: 'claude-sim-1', max_tokens: 64, stream: true, messages: [{ role: 'user', content: text }] }),
  served(text, prompt) {
    expect(count(text, 'event: message_start')).toBe(1)
    expect(text).toContain('event: message_stop')
    expect(text).toContain(prompt)
    expect(text).not.toContain('event: error')
  },
  requestIdHeader: 'request-id',
  direct: (ctx, key) => ({ url: `${ctx.sim.anthropicBaseURL}/v1/messages`, headers: { ...anthropicJson, 'x-api-key': key } }),
}

const chat: Api = {
  name: 'OpenAI Chat Completions',
  provider: 'openai',
  keys: [O1, O2],
  path: '/v1/chat/completions',
  headers: json,
  body: (text) => JSON.stringify({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: text }] }),
  served(text, prompt) {
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
    expect(count(text, '"finish_reason":"stop"')).toBe(1)
    expect(text).toContain(prompt)
    expect(text).not.toContain('"error"')
  },
  requestIdHeader: 'x-request-id',
  direct: (ctx, key) => ({ url: `${ctx.sim.openaiBaseURL}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${key}` } }),
}

const responses: Api = {
  name: 'OpenAI Responses',
  provider: 'openai',
  keys: [O1, O2],
  path: '/v1/responses',
  headers: json,
  body: (text) => JSON.stringify({ model: 'gpt-sim', stream: true, input: text }),
  served(text, prompt) {
    expect(count(text, 'event: response.created')).toBe(1)
    expect(text).toContain('event: response.completed')
    expect(text).toContain(prompt)
    expect(text).not.toContain('event: error')
    expect(text).not.toContain('response.failed')
  },
  requestIdHeader: 'x-request-id',
  direct: (ctx, key) => ({ url: `${ctx.sim.openaiBaseURL}/v1/responses`, headers: { ...json, authorization: `Bearer ${key}` } }),
}

const GEMINI_STREAM = '/v1beta/models/gemini-2.5-flash:streamGenerateContent'

const gemini: Api = {
  name: 'Gemini streamGenerateContent',
  provider: 'gemini',
  keys: [G1, G2],
  path: `${GEMINI_STREAM}?alt=sse`,
  headers: json,
  body: (text) => JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
  served(text, prompt) {
    expect(count(text, '"finishReason":"STOP"')).toBe(1)
    expect(text).toContain(prompt)
    expect(text).not.toContain('"error"')
  },
  direct: (ctx, key) => ({ url: `${ctx.sim.geminiBaseURL}${GEMINI_STREAM}?alt=sse`, headers: { ...json, 'x-goog-api-key': key } }),
}

/** The key's state once it failed: the reason, and how long it cools (ms, as a range), or 'permanent'. */
interface Mark {
  reason: 'rate_limited' | 'quota_exhausted' | 'auth_failed'
  cools: readonly [number, number] | 'permanent'
}

const HOUR = 3_600_000
const DAY = 24 * HOUR

interface FailoverCase {
  api: Api
  label: string
  fault: StreamError
  mark: Mark
}

const failovers: FailoverCase[] = [
  // The wait comes from the 200's own headers, as some proxies send them.
  { api: anthropic, label: 'rate_limit_error with Retry-After: 30', fault: { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after', seconds: 30 }, mark: { reason: 'rate_limited', cools: [25_000, 30_000] } },
  { api: anthropic, label: 'rate_limit_error with anthropic-ratelimit-requests-reset in 45 s', fault: { kind: 'stream_error', error: 'rate_limit', retry: 'anthropic-reset', seconds: 45 }, mark: { reason: 'rate_limited', cools: [40_000, 46_000] } },
  { api: anthropic, label: 'authentication_error', fault: { kind: 'stream_error', error: 'unauthorized' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: anthropic, label: 'permission_error', fault: { kind: 'stream_error', error: 'forbidden' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: anthropic, label: 'billing_error', fault: { kind: 'stream_error', error: 'quota' }, mark: { reason: 'quota_exhausted', cools: [HOUR - 5_000, HOUR] } },
  { api: chat, label: 'a first data chunk {"error":{"code":"rate_limit_exceeded"}} with Retry-After: 20', fault: { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after', seconds: 20 }, mark: { reason: 'rate_limited', cools: [15_000, 20_000] } },
  { api: chat, label: 'rate_limit_exceeded with x-ratelimit-reset-requests: 1m30s', fault: { kind: 'stream_error', error: 'rate_limit', retry: 'openai-reset', seconds: 90 }, mark: { reason: 'rate_limited', cools: [85_000, 90_000] } },
  { api: chat, label: 'insufficient_quota', fault: { kind: 'stream_error', error: 'quota' }, mark: { reason: 'quota_exhausted', cools: [HOUR - 5_000, HOUR] } },
  { api: chat, label: 'invalid_api_key', fault: { kind: 'stream_error', error: 'unauthorized' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: chat, label: 'insufficient_permissions', fault: { kind: 'stream_error', error: 'forbidden' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: responses, label: 'a first `error` event rate_limit_exceeded with retry-after-ms', fault: { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after-ms', seconds: 25 }, mark: { reason: 'rate_limited', cools: [20_000, 25_000] } },
  { api: responses, label: 'a first `error` event insufficient_quota', fault: { kind: 'stream_error', error: 'quota' }, mark: { reason: 'quota_exhausted', cools: [HOUR - 5_000, HOUR] } },
  { api: responses, label: 'a first `error` event invalid_api_key', fault: { kind: 'stream_error', error: 'unauthorized' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: responses, label: 'a first `error` event insufficient_permissions', fault: { kind: 'stream_error', error: 'forbidden' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: responses, label: 'a first `response.failed` rate_limit_exceeded with Retry-After: 35', fault: { kind: 'stream_error', error: 'rate_limit', responsesEvent: 'response.failed', retry: 'retry-after', seconds: 35 }, mark: { reason: 'rate_limited', cools: [30_000, 35_000] } },
  { api: responses, label: 'a first `response.failed` insufficient_quota', fault: { kind: 'stream_error', error: 'quota', responsesEvent: 'response.failed' }, mark: { reason: 'quota_exhausted', cools: [HOUR - 5_000, HOUR] } },
  // Gemini states its wait in the error's RetryInfo; a per-day quota lasts until Pacific midnight.
  { api: gemini, label: 'RESOURCE_EXHAUSTED with RetryInfo 40s', fault: { kind: 'stream_error', error: 'rate_limit', seconds: 40 }, mark: { reason: 'rate_limited', cools: [35_000, 40_000] } },
  { api: gemini, label: 'RESOURCE_EXHAUSTED of a per-day quota', fault: { kind: 'stream_error', error: 'quota' }, mark: { reason: 'quota_exhausted', cools: [0, DAY] } },
  { api: gemini, label: 'API_KEY_INVALID', fault: { kind: 'stream_error', error: 'unauthorized' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
  { api: gemini, label: 'PERMISSION_DENIED', fault: { kind: 'stream_error', error: 'forbidden' }, mark: { reason: 'auth_failed', cools: 'permanent' } },
]

interface RelayCase {
  api: Api
  label: string
  fault: StreamError
}

const relayed: RelayCase[] = [
  { api: anthropic, label: 'overloaded_error', fault: { kind: 'stream_error', error: 'overloaded' } },
  { api: anthropic, label: 'api_error', fault: { kind: 'stream_error', error: 'server_error' } },
  { api: chat, label: 'a first data chunk with a server_error', fault: { kind: 'stream_error', error: 'server_error' } },
  { api: responses, label: 'a first `error` event server_error', fault: { kind: 'stream_error', error: 'server_error' } },
  { api: responses, label: 'a first `response.failed` server_error', fault: { kind: 'stream_error', error: 'server_error', responsesEvent: 'response.failed' } },
  { api: gemini, label: 'UNAVAILABLE (overloaded)', fault: { kind: 'stream_error', error: 'overloaded' } },
  { api: gemini, label: 'INTERNAL', fault: { kind: 'stream_error', error: 'server_error' } },
]

async function send(ctx: Ctx, api: Api, body: string): Promise<{ res: Response; text: string }> {
  const res = await fetch(ctx.url(api.provider, api.path), { method: 'POST', headers: api.headers, body })
  return { res, text: await res.text() }
}

function failoverScenario({ api, label, fault, mark }: FailoverCase): Scenario {
  return {
    name: `${api.name}: ${label} as the first event fails over (${mark.reason}, ${mark.cools === 'permanent' ? 'permanent' : 'cooling'})`,
    async run(ctx) {
      const [k1, k2] = api.keys
      ctx.sim.fault(k1, fault, { times: 1 })
      // Bytes a re-encoding would change: the replay must be the same bytes.
      const prompt = 'stream-start-probe'
      const sent = api.body(`${prompt} ünïcødé ✓ ${'z'.repeat(3000)}`)
      const { res, text } = await send(ctx, api, sent)

      // The client sees the second key's stream alone: its status, its headers, its events.
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      api.served(text, prompt)
      const upstream = ctx.sim.requests
      expect(upstream.map((r) => r.key)).toEqual([k1, k2])
      expect(upstream.map((r) => r.status)).toEqual([200, 200])
      if (api.requestIdHeader) expect(res.headers.get(api.requestIdHeader)).toBe(`req_sim_${upstream[1]!.id}`)
      // The first answer's wait headers were the bridge's to read, not the client's.
      expect(res.headers.get('retry-after')).toBeNull()
      expect(res.headers.get('retry-after-ms')).toBeNull()
      // The body was replayed byte for byte.
      for (const r of upstream) expect(r.body.equals(Buffer.from(sent))).toBe(true)

      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ provider: api.provider, credentialKind: 'centralized', attempts: 2, keysTried: [maskKey(k1), maskKey(k2)], credentialHint: maskKey(k2), status: 200, outcome: 'ok' })
      expect(record!.upstreamRequestId).toBe(api.requestIdHeader ? `req_sim_${upstream[1]!.id}` : null)

      const [s1, s2] = ctx.bridge.keyStates()[api.provider]!
      expect(s2).toMatchObject({ hint: maskKey(k2), state: 'valid' })
      if (mark.cools === 'permanent') {
        expect(s1).toMatchObject({ hint: maskKey(k1), state: 'permanent', reason: mark.reason })
      } else {
        expect(s1).toMatchObject({ hint: maskKey(k1), state: 'temporary', reason: mark.reason })
        const left = s1!.until! - Date.now()
        expect(left).toBeGreaterThan(mark.cools[0])
        expect(left).toBeLessThanOrEqual(mark.cools[1])
      }

      // The next request goes straight to the second key.
      const again = await send(ctx, api, api.body('second request'))
      expect(again.res.status).toBe(200)
      api.served(again.text, 'second')
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([k1, k2, k2])
    },
  }
}

/** Ids and clocks differ between two answers of the simulator; nothing else may. */
const normalize = (text: string): string => text.replace(/_sim_\d+/g, '_sim_N').replace(/"created(_at)?":\d+/g, '"created$1":0')

function relayScenario({ api, label, fault }: RelayCase): Scenario {
  return {
    name: `${api.name}: ${label} as the first event is relayed untouched: one attempt, no mark`,
    async run(ctx) {
      const [k1] = api.keys
      ctx.sim.fault(k1, fault, { times: 1 })
      const sent = api.body('relay-probe')
      const { res, text } = await send(ctx, api, sent)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([k1])
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ attempts: 1, keysTried: [maskKey(k1)], credentialHint: maskKey(k1), status: 200 })
      expect(ctx.bridge.keyStates()[api.provider]!.every((k) => k.state === 'valid')).toBe(true)

      // The same fault straight from the simulator: the client got exactly those bytes.
      ctx.sim.fault(k1, fault, { times: 1 })
      const direct = api.direct(ctx, k1)
      const straight = await (await fetch(direct.url, { method: 'POST', headers: direct.headers, body: sent })).text()
      expect(straight).toMatch(/error|failed/)
      expect(normalize(text)).toBe(normalize(straight))
    },
  }
}

const scenarios: Scenario[] = [
  ...failovers.map(failoverScenario),
  ...relayed.map(relayScenario),
  {
    name: 'an error after the first event is the client\'s: relayed as sent, no failover, no mark',
    async run(ctx) {
      ctx.sim.fault(A1, { kind: 'stream_error', error: 'rate_limit', afterEvents: 2 }, { times: 1 })
      const { res, text } = await send(ctx, anthropic, anthropic.body('late error'))
      expect(res.status).toBe(200)
      expect(text.indexOf('event: message_start')).toBe(0)
      expect(text).toContain('event: error')
      expect(text).toContain('rate_limit_error')
      expect(text).not.toContain('message_stop')
      expect(ctx.sim.requests.map((r) => r.key)).toEqual([A1])
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ attempts: 1, keysTried: [maskKey(A1)] })
      expect(ctx.bridge.keyStates().anthropic!.every((k) => k.state === 'valid')).toBe(true)
    },
  },
  {
    name: 'every key failing at its first event: the client gets the provider-shaped 429 with the shortest wait',
    async run(ctx) {
      ctx.sim.fault(O1, { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after', seconds: 9 }, { times: 1 })
      ctx.sim.fault(O2, { kind: 'stream_error', error: 'rate_limit', retry: 'retry-after', seconds: 4 }, { times: 1 })
      const { res, text } = await send(ctx, chat, chat.body('nobody'))
      expect(res.status).toBe(429)
      expect(res.headers.get('retry-after')).toBe('4')
      expect(JSON.parse(text)).toMatchObject({ error: { type: 'rate_limit_error' } })
      const [record] = await ctx.recorded(1)
      expect(record).toMatchObject({ outcome: 'exhausted', status: 429, attempts: 2, keysTried: [maskKey(O1), maskKey(O2)] })
    },
  },
]

conformance(scenarios)
