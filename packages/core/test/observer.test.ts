import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { until } from '../../../test/support/wait.js'
import { AibridgeArgumentError, maskKey, type BridgeObserver, type InterceptionRecord, type KeyMarkedEvent, type KeyResetEvent, type PoolExhaustedEvent } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('ob1')
const K2 = testKey('ob2')

function recorder() {
  const seen = { ended: [] as InterceptionRecord[], marked: [] as KeyMarkedEvent[], reset: [] as KeyResetEvent[], exhausted: [] as PoolExhaustedEvent[] }
  const observer: BridgeObserver = {
    requestEnded: (r) => seen.ended.push(r),
    keyMarked: (e) => seen.marked.push(e),
    keyReset: (e) => seen.reset.push(e),
    poolExhausted: (e) => seen.exhausted.push(e),
  }
  return { seen, observer }
}

describe('bridge.observe', () => {
  test('a failover, an exhaustion and a reset reach every listener with hints, never keys', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } } })
    const { seen, observer } = recorder()
    b.bridge.observe(observer)
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }, 'anthropic'), [K2]: json(200, {}) }))
    await post(b.url, '/anthropic/v1/messages', {})
    await until(() => seen.ended.length === 1)
    expect(seen.marked).toEqual([
      expect.objectContaining({ provider: 'anthropic', hint: maskKey(K1), reason: 'rate_limited', state: 'temporary', status: 429, requestId: seen.ended[0]!.id }),
    ])
    expect(seen.marked[0]!.until! - seen.marked[0]!.at).toBe(30_000)
    expect(seen.ended[0]).toMatchObject({ outcome: 'ok', keysTried: [maskKey(K1), maskKey(K2)], credentialHint: maskKey(K2) })

    h.up.handle(rateLimited({ 'retry-after': '5' }, 'anthropic'))
    const res = await post(b.url, '/anthropic/v1/messages', {})
    expect(res.status).toBe(429)
    await until(() => seen.ended.length === 2)
    expect(seen.exhausted).toEqual([{ provider: 'anthropic', kind: 'rate_limited', retryAfterSeconds: Number(res.headers['retry-after']), requestId: seen.ended[1]!.id, principal: null, at: expect.any(Number) }])

    b.bridge.resetKey('anthropic', maskKey(K1))
    expect(seen.reset).toEqual([{ provider: 'anthropic', keyId: seen.marked[0]!.keyId, hint: maskKey(K1), at: expect.any(Number) }])
    const all = JSON.stringify(seen)
    expect(all).not.toContain(K1)
    expect(all).not.toContain(K2)
  })

  test('all keys failing authentication is an unauthorized exhaustion', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const { seen, observer } = recorder()
    b.bridge.observe(observer)
    h.up.handle(json(401, { error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } }))
    expect((await post(b.url, '/openai/v1/chat/completions', {})).status).toBe(502)
    await until(() => seen.ended.length === 1)
    expect(seen.marked.map((e) => [e.state, e.until])).toEqual([['permanent', null]])
    expect(seen.exhausted.map((e) => [e.kind, e.retryAfterSeconds])).toEqual([['unauthorized', null]])
  })

  test('a listener that throws is logged and the request and the other listeners go on', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const { seen, observer } = recorder()
    b.bridge.observe({ requestEnded: () => { throw new Error('exporter down') } })
    b.bridge.observe({ requestEnded: () => Promise.reject(new Error('async exporter down')) })
    b.bridge.observe(observer)
    h.up.handle(json(200, { ok: true }))
    expect((await post(b.url, '/openai/v1/chat/completions', {})).status).toBe(200)
    await until(() => seen.ended.length === 1 && b.logs.filter((l) => l.includes('aibridge: an observer threw')).length === 2)
  })

  test('each listener gets its own copy; unsubscribing stops the events', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const first: InterceptionRecord[] = []
    const second: InterceptionRecord[] = []
    const stop = b.bridge.observe({ requestEnded: (r) => { r.keysTried.push('changed'); first.push(r) } })
    b.bridge.observe({ requestEnded: (r) => second.push(r) })
    h.up.handle(json(200, {}))
    await post(b.url, '/openai/v1/chat/completions', {})
    await until(() => second.length === 1)
    expect(second[0]!.keysTried).toEqual([maskKey(K1)])
    expect(b.records[0]!.keysTried).toEqual([maskKey(K1)])
    stop()
    await post(b.url, '/openai/v1/chat/completions', {})
    await until(() => second.length === 2)
    expect(first).toHaveLength(1)
  })

  test('a wrong observer is refused at once with an option error', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    expect(() => b.bridge.observe({ requestEnd: () => {} } as never)).toThrow(AibridgeArgumentError)
    expect(() => b.bridge.observe({ keyMarked: 'yes' } as never)).toThrow(/observer.keyMarked must be a function/)
    expect(() => b.bridge.observe(null as never)).toThrow(AibridgeArgumentError)
  })
})
