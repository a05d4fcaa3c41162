import { describe, expect, test } from 'vitest'
import { post, raw } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { sleep, until } from '../../../test/support/wait.js'
import { maskKey, type InterceptionRecord } from '../src/index.js'
import { capturingLogger, testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('rc1')
const K2 = testKey('rc2')

describe('onInterception gets one record per request', () => {
  test('a served request: every field', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(json(200, { ok: true }, { 'x-request-id': 'req_up_1' }))
    const before = Date.now()
    await post(b.url, '/openai/v1/chat/completions?api-version=2024&token=query-secret', {})
    const [record] = await b.waitForRecords(1)
    expect(record).toEqual<InterceptionRecord>({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      provider: 'openai',
      method: 'POST',
      path: '/v1/chat/completions',
      credentialKind: 'centralized',
      principal: null,
      credentialHint: maskKey(K1),
      keysTried: [maskKey(K1)],
      attempts: 1,
      status: 200,
      outcome: 'ok',
      upstreamRequestId: 'req_up_1',
      startedAt: expect.any(Number),
      durationMs: expect.any(Number),
      firstByteMs: expect.any(Number),
      model: null,
      usage: null,
    })
    expect(record!.startedAt).toBeGreaterThanOrEqual(before)
    expect(record!.startedAt).toBeLessThanOrEqual(Date.now())
    expect(record!.firstByteMs!).toBeLessThanOrEqual(record!.durationMs)
    await sleep(30)
    expect(b.records).toHaveLength(1)
  })

  test('a failover: both keys tried, the serving key is the hint, anthropic request-id kept', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '9', 'request-id': 'req_first' }, 'anthropic'), [K2]: json(200, {}, { 'request-id': 'req_second' }) }))
    await post(b.url, '/anthropic/v1/messages', {})
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({
      provider: 'anthropic',
      credentialHint: maskKey(K2),
      keysTried: [maskKey(K1), maskKey(K2)],
      attempts: 2,
      status: 200,
      outcome: 'ok',
      upstreamRequestId: 'req_second',
    })
  })

  test('exhausted: the hint of the last key tried', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(rateLimited({ 'retry-after': '9' }))
    await post(b.url, '/openai/v1/x', {})
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ credentialHint: maskKey(K2), keysTried: [maskKey(K1), maskKey(K2)], attempts: 2, status: 429, outcome: 'exhausted' })
  })

  test('BYOK: kind byok, no hint', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    await post(b.url, '/openai/v1/x', {}, { authorization: 'Bearer sk-client-credential-123456789' })
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ credentialKind: 'byok', credentialHint: null, keysTried: [], attempts: 1, outcome: 'ok' })
  })

  test('upstream_error for a passed-through 4xx/5xx; GET method recorded', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(json(500, { error: { message: 'boom', type: 'server_error', param: null, code: null } }))
    await raw(b.url, '/openai/v1/models')
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ method: 'GET', path: '/v1/models', status: 500, outcome: 'upstream_error' })
  })

  test('rejected, with no upstream call and no hint', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    await raw(b.url, '/openai/v1/%2e%2e/x')
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ status: 400, outcome: 'rejected', attempts: 0, keysTried: [], credentialHint: null, upstreamRequestId: null })
    expect(record!.firstByteMs).toBeTypeOf('number')
  })

  test('no record for a path that names no provider', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const r = await raw(b.url, '/nope/v1/x')
    expect(r.status).toBe(404)
    await sleep(30)
    expect(b.records).toHaveLength(0)
  })

  test('records of concurrent requests are distinct', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    await Promise.all(Array.from({ length: 8 }, (_, i) => post(b.url, `/openai/v1/r${i}`, {})))
    const records = await b.waitForRecords(8)
    expect(new Set(records.map((r) => r.id)).size).toBe(8)
    expect(new Set(records.map((r) => r.path)).size).toBe(8)
  })
})

describe('a throwing onInterception is logged and never breaks the request', () => {
  test('synchronous throw', async () => {
    const { logger, lines } = capturingLogger()
    let calls = 0
    const b = await h.start({
      providers: { openai: { keys: [K1], baseURL: h.up.url } },
      logger,
      onInterception: () => {
        calls++
        throw new Error('sink down')
      },
    })
    const r1 = await post(b.url, '/openai/v1/x', {})
    const r2 = await post(b.url, '/openai/v1/x', {})
    expect([r1.status, r2.status]).toEqual([200, 200])
    const threw = () => lines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'aibridge: onInterception threw')
    await until(() => threw().length >= 2)
    expect(calls).toBe(2)
    const entry = threw()[0]
    expect(entry.msg).toBe('aibridge: onInterception threw')
    expect(entry.err).toContain('sink down')
    expect(entry.level).toBe(50)
  })

  test('rejected promise', async () => {
    const { logger, lines } = capturingLogger()
    const b = await h.start({
      providers: { openai: { keys: [K1], baseURL: h.up.url } },
      logger,
      onInterception: (async () => {
        throw new Error('async sink down')
      }) as unknown as (r: InterceptionRecord) => void,
    })
    expect((await post(b.url, '/openai/v1/x', {})).status).toBe(200)
    const threw = () => lines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'aibridge: onInterception threw')
    await until(() => threw().length >= 1)
    expect(threw()[0].err).toContain('async sink down')
  })
})

describe('request logs', () => {
  test('one info line per request end with the record, no key, no body, no query string', async () => {
    const { logger, lines } = capturingLogger()
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, logger })
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '5' }), [K2]: json(200, { ok: true }) }))
    await post(b.url, '/openai/v1/chat/completions?token=query-secret', { messages: [{ role: 'user', content: 'BODY-SECRET' }] })
    const [record] = await b.waitForRecords(1)
    const requestLines = () => lines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'aibridge: request')
    await until(() => requestLines().length === 1)
    const entry = requestLines()[0]
    expect(entry.level).toBe(30)
    expect(entry).toMatchObject({ id: record!.id, provider: 'openai', path: '/v1/chat/completions', status: 200, outcome: 'ok', attempts: 2, keysTried: [maskKey(K1), maskKey(K2)] })
    // The key mark stays a warning of its own.
    expect(lines.map((l) => JSON.parse(l)).filter((e) => e.level === 40 && e.msg.includes('failing over'))).toHaveLength(1)
    const all = lines.join('\n')
    for (const secret of [K1, K2, 'query-secret', 'BODY-SECRET']) expect(all).not.toContain(secret)
  })
})
