import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { A_KEY, anthropicClient, O_KEY, openaiClient, useSimulator } from './helpers/sim.js'

const h = useSimulator()

const ask = (client: Anthropic, text = 'hi') => client.messages.create({ model: 'claude-sim-1', max_tokens: 16, messages: [{ role: 'user', content: text }] })
const chat = (client: OpenAI, text = 'hi') => client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: text }] })

/** The error an SDK call rejects with. */
async function rejection<T>(call: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(type)
  return err as T
}

describe('rate_limit', () => {
  test('Anthropic: 429 rate_limit_error with Retry-After in seconds (the default style, 2 s by default)', async () => {
    h.sim.fault(A_KEY, { kind: 'rate_limit' })
    const err = await rejection(ask(anthropicClient(h.sim)), Anthropic.RateLimitError)
    expect(err.status).toBe(429)
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } })
    expect(err.headers.get('retry-after')).toBe('2')
    expect(err.headers.get('x-should-retry')).toBe('false')
    expect(h.sim.requests[0]).toMatchObject({ status: 429, fault: 'rate_limit' })
  })

  test('OpenAI: 429 rate_limit_exceeded with retry-after-ms', async () => {
    h.sim.fault(O_KEY, { kind: 'rate_limit', retry: 'retry-after-ms', seconds: 1.5 })
    const err = await rejection(chat(openaiClient(h.sim)), OpenAI.RateLimitError)
    expect(err.status).toBe(429)
    expect(err.code).toBe('rate_limit_exceeded')
    expect(err.headers.get('retry-after-ms')).toBe('1500')
    expect(err.headers.get('retry-after')).toBeNull()
  })

  test('retry-after-date: an HTTP-date at least `seconds` ahead', async () => {
    h.sim.fault(O_KEY, { kind: 'rate_limit', retry: 'retry-after-date', seconds: 30 })
    const before = Date.now()
    const err = await rejection(chat(openaiClient(h.sim)), OpenAI.RateLimitError)
    const value = err.headers.get('retry-after')!
    expect(value).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/)
    const wait = Date.parse(value) - before
    expect(wait).toBeGreaterThanOrEqual(29_000)
    expect(wait).toBeLessThanOrEqual(32_000)
  })

  test('anthropic-reset: requests-remaining 0 and an RFC 3339 requests-reset, no Retry-After', async () => {
    h.sim.fault(A_KEY, { kind: 'rate_limit', retry: 'anthropic-reset', seconds: 4 })
    const before = Date.now()
    const err = await rejection(ask(anthropicClient(h.sim)), Anthropic.RateLimitError)
    expect(err.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0')
    const reset = err.headers.get('anthropic-ratelimit-requests-reset')!
    expect(reset).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(Date.parse(reset) - before).toBeGreaterThanOrEqual(3_000)
    expect(Date.parse(reset) - before).toBeLessThanOrEqual(5_500)
    expect(err.headers.get('retry-after')).toBeNull()
  })

  test('openai-reset: remaining-requests 0 and a Go-style duration', async () => {
    const client = openaiClient(h.sim)
    h.sim.fault(O_KEY, { kind: 'rate_limit', retry: 'openai-reset', seconds: 90 }, { times: 1 })
    h.sim.fault(O_KEY, { kind: 'rate_limit', retry: 'openai-reset', seconds: 2 }, { times: 1 })
    const long = await rejection(chat(client), OpenAI.RateLimitError)
    expect(long.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(long.headers.get('x-ratelimit-reset-requests')).toBe('1m30s')
    const short = await rejection(chat(client), OpenAI.RateLimitError)
    expect(short.headers.get('x-ratelimit-reset-requests')).toBe('2s')
    expect(short.headers.get('retry-after')).toBeNull()
  })

  test('none: a 429 with no wait header at all', async () => {
    h.sim.fault(A_KEY, { kind: 'rate_limit', retry: 'none' })
    const err = await rejection(ask(anthropicClient(h.sim)), Anthropic.RateLimitError)
    const names = [...err.headers.keys()]
    expect(names.filter((n) => n.includes('retry') && n !== 'x-should-retry')).toEqual([])
    expect(names.filter((n) => n.includes('ratelimit'))).toEqual([])
  })
})

describe('auth, permission, quota and server faults', () => {
  test('unauthorized: 401 in each provider shape', async () => {
    h.sim.fault(A_KEY, { kind: 'unauthorized' })
    h.sim.fault(O_KEY, { kind: 'unauthorized' })
    const a = await rejection(ask(anthropicClient(h.sim)), Anthropic.AuthenticationError)
    expect(a.error).toMatchObject({ error: { type: 'authentication_error' } })
    const o = await rejection(chat(openaiClient(h.sim)), OpenAI.AuthenticationError)
    expect(o.code).toBe('invalid_api_key')
  })

  test('forbidden: 403 in each provider shape', async () => {
    h.sim.fault(A_KEY, { kind: 'forbidden' })
    h.sim.fault(O_KEY, { kind: 'forbidden' })
    const a = await rejection(ask(anthropicClient(h.sim)), Anthropic.PermissionDeniedError)
    expect(a.error).toMatchObject({ error: { type: 'permission_error' } })
    const o = await rejection(chat(openaiClient(h.sim)), OpenAI.PermissionDeniedError)
    expect(o.status).toBe(403)
  })

  test('quota: OpenAI 429 insufficient_quota; Anthropic 400 "credit balance is too low"', async () => {
    h.sim.fault(A_KEY, { kind: 'quota' })
    h.sim.fault(O_KEY, { kind: 'quota' })
    const a = await rejection(ask(anthropicClient(h.sim)), Anthropic.BadRequestError)
    expect(a.error).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('Your credit balance is too low') } })
    const o = await rejection(chat(openaiClient(h.sim)), OpenAI.RateLimitError)
    expect(o.error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' })
    expect(o.headers.get('retry-after')).toBeNull()
  })

  test('server_error: 500 api_error by default; 529 overloaded_error for Anthropic; any 5xx for OpenAI', async () => {
    h.sim.fault(A_KEY, { kind: 'server_error' }, { times: 1 })
    h.sim.fault(A_KEY, { kind: 'server_error', status: 529 }, { times: 1 })
    h.sim.fault(O_KEY, { kind: 'server_error', status: 503 })
    const client = anthropicClient(h.sim)
    const first = await rejection(ask(client), Anthropic.InternalServerError)
    expect(first.status).toBe(500)
    expect(first.error).toMatchObject({ error: { type: 'api_error' } })
    const second = await rejection(ask(client), Anthropic.APIError)
    expect(second.status).toBe(529)
    expect(second.error).toMatchObject({ error: { type: 'overloaded_error' } })
    const o = await rejection(chat(openaiClient(h.sim)), OpenAI.InternalServerError)
    expect(o.status).toBe(503)
    expect(o.type).toBe('server_error')
  })
})

describe('scripting', () => {
  test('x-should-retry: false keeps the SDK from retrying a fault, even with its default retries', async () => {
    h.sim.fault(O_KEY, { kind: 'server_error' })
    h.sim.fault(A_KEY, { kind: 'rate_limit', seconds: 0 })
    await rejection(chat(openaiClient(h.sim, { maxRetries: 2 })), OpenAI.InternalServerError)
    await rejection(ask(anthropicClient(h.sim, { maxRetries: 2 })), Anthropic.RateLimitError)
    expect(h.sim.requests.map((r) => r.key)).toEqual([O_KEY, A_KEY])
  })

  test('times counts requests; queued faults apply in order; then the key answers normally', async () => {
    h.sim.fault(O_KEY, { kind: 'unauthorized' }, { times: 2 })
    h.sim.fault(O_KEY, { kind: 'forbidden' }, { times: 1 })
    const client = openaiClient(h.sim)
    await rejection(chat(client), OpenAI.AuthenticationError)
    await rejection(chat(client), OpenAI.AuthenticationError)
    await rejection(chat(client), OpenAI.PermissionDeniedError)
    const ok = await chat(client, 'back')
    expect(ok.choices[0]!.message.content).toBe('Simulated reply to: back')
    expect(h.sim.requests.map((r) => [r.status, r.fault])).toEqual([
      [401, 'unauthorized'],
      [401, 'unauthorized'],
      [403, 'forbidden'],
      [200, null],
    ])
    // A success carries no x-should-retry.
    expect((await client.models.list().withResponse()).response.headers.get('x-should-retry')).toBeNull()
  })

  test('a fault without times lasts until cleared, and applies only to its own key', async () => {
    h.sim.fault(A_KEY, { kind: 'forbidden' })
    const client = anthropicClient(h.sim)
    await rejection(ask(client), Anthropic.PermissionDeniedError)
    await rejection(ask(client), Anthropic.PermissionDeniedError)
    const other = await ask(anthropicClient(h.sim, { apiKey: 'sk-test-other' }), 'other key')
    expect(other.content[0]).toMatchObject({ text: 'Simulated reply to: other key' })
    h.sim.clearFaults(A_KEY)
    expect((await ask(client, 'cleared')).content[0]).toMatchObject({ text: 'Simulated reply to: cleared' })
  })

  test('clearFaults() without a key and reset() clear every key', async () => {
    h.sim.fault(A_KEY, { kind: 'forbidden' })
    h.sim.fault(O_KEY, { kind: 'forbidden' })
    h.sim.clearFaults()
    await ask(anthropicClient(h.sim))
    await chat(openaiClient(h.sim))
    h.sim.fault(A_KEY, { kind: 'forbidden' })
    h.sim.reset()
    expect(h.sim.requests).toEqual([])
    await ask(anthropicClient(h.sim))
    expect(h.sim.requests[0]!.status).toBe(200)
  })

  test('a bad fault is refused when scripted, naming what is wrong', () => {
    expect(() => h.sim.fault('', { kind: 'forbidden' })).toThrow(/key must be a non-empty string/)
    expect(() => h.sim.fault(A_KEY, { kind: 'forbidden' }, { times: 0 })).toThrow(/times must be a positive integer, got 0/)
    expect(() => h.sim.fault(A_KEY, { kind: 'slow_first_byte', ms: -1 })).toThrow(/slow_first_byte\.ms/)
    expect(() => h.sim.fault(A_KEY, { kind: 'server_error', status: 404 })).toThrow(/server_error\.status/)
    expect(() => h.sim.fault(A_KEY, { kind: 'nope' } as never)).toThrow(/unknown fault kind "nope"/)
  })
})
