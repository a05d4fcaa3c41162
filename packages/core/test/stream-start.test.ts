import { describe, expect, test } from 'vitest'
import { open, raw } from '../../../test/support/http.js'
import { anthropicStreamEvents, byKey, openaiStreamEvents, sse, sseEvent, type Script } from '../../../test/support/upstream.js'
import { maskKey } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('ss1')
const K2 = testKey('ss2')

const ANTHROPIC = '/anthropic/v1/messages'
const CHAT = '/openai/v1/chat/completions'
const RESPONSES = '/openai/v1/responses'

/** A 200 event stream whose first event is `first`, then it ends (as the providers end an errored stream). */
function errorStream(first: string, headers: Record<string, string> = {}): Script {
  return sse([first], { headers })
}

function anthropicError(type: string, message = 'stream start error'): string {
  return sseEvent('error', { type: 'error', error: { type, message } })
}

async function start(provider: 'anthropic' | 'openai', first: Script, second: Script = provider === 'anthropic' ? sse(anthropicStreamEvents('served')) : sse(openaiStreamEvents('served'))) {
  const store = recordingStore()
  const b = await h.start({ providers: { [provider]: { keys: [K1, K2], baseURL: h.up.url } }, store })
  h.up.handle(byKey({ [K1]: first, [K2]: second }))
  return { b, store }
}

describe('an error as a stream\'s first event fails over like the status it stands for', () => {
  test('anthropic rate_limit_error: the key cools for the Retry-After of the response, the next key serves, the record shows both', async () => {
    const { b, store } = await start('anthropic', errorStream(anthropicError('rate_limit_error'), { 'retry-after': '17' }))
    const r = await raw(b.url, ANTHROPIC, { method: 'POST', body: '{"stream":true}' })
    expect(r.status).toBe(200)
    expect(r.text).toBe(anthropicStreamEvents('served').join(''))
    expect(r.text).not.toContain('rate_limit_error')
    expect(store.marks.map((m) => [m.mark.reason, m.cooldownMs])).toEqual([['rate_limited', 17_000]])
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'ok', attempts: 2, keysTried: [maskKey(K1), maskKey(K2)], credentialHint: maskKey(K2) })
    // The body was replayed byte for byte.
    expect(h.up.requests.map((q) => q.body.toString())).toEqual(['{"stream":true}', '{"stream":true}'])
  })

  test.each([
    ['authentication_error', 'auth_failed', 'permanent'],
    ['permission_error', 'auth_failed', 'permanent'],
    ['billing_error', 'quota_exhausted', 'temporary'],
  ])('anthropic %s takes the key out (%s)', async (type, reason, state) => {
    const { b, store } = await start('anthropic', errorStream(anthropicError(type)))
    const r = await raw(b.url, ANTHROPIC, { method: 'POST', body: '{}' })
    expect(r.text).toBe(anthropicStreamEvents('served').join(''))
    expect(store.marks.map((m) => [m.mark.reason, m.mark.state])).toEqual([[reason, state]])
  })

  test.each(['overloaded_error', 'api_error', 'invalid_request_error'])('anthropic %s is relayed untouched: no failover, no mark', async (type) => {
    const { b, store } = await start('anthropic', errorStream(anthropicError(type)))
    const r = await raw(b.url, ANTHROPIC, { method: 'POST', body: '{}' })
    expect(r.status).toBe(200)
    expect(r.text).toBe(anthropicError(type))
    expect(store.marks).toHaveLength(0)
    expect(h.up.requests).toHaveLength(1)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ attempts: 1, credentialHint: maskKey(K1) })
  })

  test.each([
    ['rate_limit_exceeded', 'rate_limited'],
    ['insufficient_quota', 'quota_exhausted'],
    ['invalid_api_key', 'auth_failed'],
  ])('openai chat: a first data chunk with error code %s fails over (%s)', async (code, reason) => {
    const first = `data: ${JSON.stringify({ error: { message: 'no', type: 'requests', param: null, code } })}\n\n`
    const { b, store } = await start('openai', errorStream(first))
    const r = await raw(b.url, CHAT, { method: 'POST', body: '{"stream":true}' })
    expect(r.text).toBe(openaiStreamEvents('served').join(''))
    expect(store.marks.map((m) => m.mark.reason)).toEqual([reason])
  })

  test('openai responses: a first `error` event, and a first `response.failed` with a quota error, fail over', async () => {
    const served = sse([sseEvent('response.created', { type: 'response.created', sequence_number: 0 })])
    const { b, store } = await start('openai', errorStream(sseEvent('error', { type: 'error', code: 'rate_limit_exceeded', message: 'slow down', param: null, sequence_number: 0 })), served)
    const r = await raw(b.url, RESPONSES, { method: 'POST', body: '{"stream":true}' })
    expect(r.text).toContain('response.created')
    expect(store.marks.map((m) => m.mark.reason)).toEqual(['rate_limited'])

    const failed = sseEvent('response.failed', { type: 'response.failed', sequence_number: 0, response: { status: 'failed', error: { code: 'insufficient_quota', message: 'pay up' } } })
    h.up.handle(byKey({ [K2]: errorStream(failed) }))
    const r2 = await raw(b.url, RESPONSES, { method: 'POST', body: '{"stream":true}' })
    // K1 is cooling, K2 fails with quota: every key is out, and the client is told when to come back.
    expect(r2.status).toBe(429)
    expect(store.marks.map((m) => m.mark.reason)).toEqual(['rate_limited', 'quota_exhausted'])
  })

  test('comments before the first event are skipped; an error after them still fails over', async () => {
    const first = `: keep-alive\n\n: processing\n\n${anthropicError('rate_limit_error')}`
    const { b, store } = await start('anthropic', errorStream(first))
    const r = await raw(b.url, ANTHROPIC, { method: 'POST', body: '{}' })
    expect(r.text).toBe(anthropicStreamEvents('served').join(''))
    expect(store.marks).toHaveLength(1)
  })

  test('a first event that does not come within timeouts.streamStartMs: the stream goes to the client as it is', async () => {
    const store = recordingStore()
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } }, store, timeouts: { streamStartMs: 100 } })
    let release!: () => void
    const hold = new Promise<void>((r) => (release = r))
    h.up.handle(async (_seen, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.flushHeaders()
      await hold
      res.end(anthropicError('rate_limit_error'))
    })
    const { req, response } = open(b.url, ANTHROPIC, { method: 'POST' })
    req.end('{}')
    const res = await response
    // The headers arrived while the first event was still missing.
    expect(res.statusCode).toBe(200)
    release()
    let text = ''
    for await (const chunk of res) text += chunk
    expect(text).toBe(anthropicError('rate_limit_error'))
    expect(store.marks).toHaveLength(0)
  })

  test('BYOK streams are never judged: the client\'s own key gets the error as sent', async () => {
    const store = recordingStore()
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } }, store })
    h.up.handle(errorStream(anthropicError('rate_limit_error')))
    const r = await raw(b.url, ANTHROPIC, { method: 'POST', body: '{}', headers: { 'x-api-key': 'sk-ant-client-own-key-123456' } })
    expect(r.text).toBe(anthropicError('rate_limit_error'))
    expect(store.marks).toHaveLength(0)
  })

  test('a normal first event is relayed with the rest, byte for byte', async () => {
    const events = openaiStreamEvents('a b c d')
    const { b, store } = await start('openai', sse(events))
    const r = await raw(b.url, CHAT, { method: 'POST', body: '{}' })
    expect(r.text).toBe(events.join(''))
    expect(store.marks).toHaveLength(0)
  })
})

test('azure: a first data chunk whose error code is the status ("429") fails over like a 429', async () => {
  const store = recordingStore()
  const b = await h.start({ providers: { azure: { keys: [K1, K2], baseURL: h.up.url } }, store })
  const first = `data: ${JSON.stringify({ error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded call rate limit.' } })}\n\n`
  h.up.handle(byKey({ [K1]: errorStream(first, { 'retry-after': '12' }), [K2]: sse(openaiStreamEvents('served')) }))
  const r = await raw(b.url, '/azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', { method: 'POST', body: '{"stream":true}' })
  expect(r.text).toBe(openaiStreamEvents('served').join(''))
  expect(store.marks.map((m) => [m.mark.reason, m.cooldownMs])).toEqual([['rate_limited', 12_000]])
})
