import { AibridgeOptionError, maskKey, type Bridge, type BridgeObserver, type InterceptionRecord, type KeyState } from '@aibridge/core'
import { Registry, register } from 'prom-client'
import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { json, rateLimited } from '../../../test/support/upstream.js'
import { fixture } from '../../../test/support/fixture.js'
import { prometheus } from '../src/index.js'
import { KEYS, scriptedFaults, series, start, testKey } from './helpers.js'

const h = fixture()

const HISTOGRAM_AFTER_FAULTS = {
  // Per provider: one request walked all three keys, the other two went straight to the good key.
  'le="0",provider="P"': 0,
  'le="1",provider="P"': 2,
  'le="2",provider="P"': 2,
  'le="3",provider="P"': 3,
  'le="4",provider="P"': 3,
  'le="5",provider="P"': 3,
  'le="10",provider="P"': 3,
  'le="+Inf",provider="P"': 3,
}

const forBoth = (template: Record<string, number>): Record<string, number> =>
  Object.fromEntries(['anthropic', 'openai'].flatMap((p) => Object.entries(template).map(([k, v]) => [k.replace('"P"', `"${p}"`), v])))

describe('a scrape after scripted faults (one key 429, one 401, one good)', () => {
  test('shows exactly the pool states, transitions, exhaustions, attempts and requests', async () => {
    const { scrape } = await scriptedFaults(h)
    const text = await scrape()

    expect(series(text, 'aibridge_key_pool_state')).toEqual(
      forBoth({ 'provider="P",state="valid"': 1, 'provider="P",state="temporary"': 1, 'provider="P",state="permanent"': 1 }),
    )
    expect(series(text, 'aibridge_key_pool_state_transitions_total')).toEqual(
      forBoth({ 'provider="P",reason="rate_limited"': 1, 'provider="P",reason="quota_exhausted"': 0, 'provider="P",reason="auth_failed"': 1, 'provider="P",reason="reset"': 0 }),
    )
    expect(series(text, 'aibridge_key_pool_exhaustions_total')).toEqual(forBoth({ 'provider="P",outcome="rate_limited"': 0, 'provider="P",outcome="unauthorized"': 0 }))
    expect(series(text, 'aibridge_key_pool_failover_attempts_bucket')).toEqual(forBoth(HISTOGRAM_AFTER_FAULTS))
    expect(series(text, 'aibridge_key_pool_failover_attempts_sum')).toEqual(forBoth({ 'provider="P"': 5 }))
    expect(series(text, 'aibridge_key_pool_failover_attempts_count')).toEqual(forBoth({ 'provider="P"': 3 }))
    expect(series(text, 'aibridge_requests_total')).toEqual(forBoth({ 'provider="P",credential_kind="centralized",outcome="ok"': 3 }))
    expect(series(text, 'aibridge_request_duration_seconds_count')).toEqual(forBoth({ 'provider="P",outcome="ok"': 3 }))
    expect(series(text, 'aibridge_time_to_first_byte_seconds_count')).toEqual(forBoth({ 'provider="P"': 3 }))
  })

  test('labels hold no key, no hint and no path', async () => {
    const { scrape, b } = await scriptedFaults(h)
    const text = await scrape()
    for (const key of [...Object.values(KEYS.anthropic), ...Object.values(KEYS.openai)]) {
      expect(text).not.toContain(key)
      expect(text).not.toContain(maskKey(key))
    }
    expect(text).not.toContain('/v1/')
    expect(text).not.toContain(b.records[0]!.id)
  })

  test('an exhausted pool, a reset and the gauge follow the pool at scrape time', async () => {
    const { scrape, b } = await scriptedFaults(h)
    // The good keys cool down too: the next request finds no usable key (429, Retry-After).
    h.up.handle(rateLimited({ 'retry-after': '60' }, 'anthropic'))
    b.bridge.resetKey('anthropic', maskKey(KEYS.anthropic.rateLimited))
    expect((await post(b.url, '/anthropic/v1/messages', {})).status).toBe(429)
    expect((await post(b.url, '/anthropic/v1/messages', {})).status).toBe(429)
    // With no key left cooling, keys that all fail authentication exhaust the pool as a 502.
    b.bridge.resetKey('openai', maskKey(KEYS.openai.rateLimited))
    b.bridge.resetKey('openai', maskKey(KEYS.openai.revoked))
    h.up.handle(json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }))
    expect((await post(b.url, '/openai/v1/chat/completions', {})).status).toBe(502)
    await b.waitForRecords(9)
    const text = await scrape()
    expect(series(text, 'aibridge_key_pool_state')).toEqual({
      'provider="anthropic",state="valid"': 0,
      'provider="anthropic",state="temporary"': 2,
      'provider="anthropic",state="permanent"': 1,
      'provider="openai",state="valid"': 0,
      'provider="openai",state="temporary"': 0,
      'provider="openai",state="permanent"': 3,
    })
    expect(series(text, 'aibridge_key_pool_state_transitions_total')).toMatchObject({
      // 429 at first, then the reset key and the good key 429 on the first exhausted request.
      'provider="anthropic",reason="rate_limited"': 3,
      'provider="anthropic",reason="reset"': 1,
      'provider="openai",reason="rate_limited"': 1,
      'provider="openai",reason="auth_failed"': 4,
      'provider="openai",reason="reset"': 2,
    })
    expect(series(text, 'aibridge_key_pool_exhaustions_total')).toEqual({
      'provider="anthropic",outcome="rate_limited"': 2,
      'provider="anthropic",outcome="unauthorized"': 0,
      'provider="openai",outcome="rate_limited"': 0,
      'provider="openai",outcome="unauthorized"': 1,
    })
    // The second exhausted request found no usable key and tried none.
    expect(series(text, 'aibridge_key_pool_failover_attempts_bucket')).toMatchObject({ 'le="0",provider="anthropic"': 1, 'le="+Inf",provider="anthropic"': 5 })
    expect(series(text, 'aibridge_requests_total')).toMatchObject({
      'provider="anthropic",credential_kind="centralized",outcome="exhausted"': 2,
      'provider="openai",credential_kind="centralized",outcome="exhausted"': 1,
    })
    // aibridge's own answers are not provider latency.
    expect(series(text, 'aibridge_time_to_first_byte_seconds_count')).toEqual(forBoth({ 'provider="P"': 3 }))
  })

  test('stop() unsubscribes and unregisters; the registry can take a new exporter', async () => {
    const { registry, exporter, b } = await scriptedFaults(h)
    expect(() => prometheus(b.bridge, { registry })).toThrow(/aibridge_key_pool_state, .* already registered in this registry/)
    exporter.stop()
    expect(await registry.metrics()).toBe('\n')
    const again = prometheus(b.bridge, { registry })
    h.up.handle(json(200, {}))
    await post(b.url, '/openai/v1/chat/completions', {})
    await b.waitForRecords(7)
    expect(series(await registry.metrics(), 'aibridge_requests_total')).toEqual({ 'provider="openai",credential_kind="centralized",outcome="ok"': 1 })
    // A second bridge in the same registry under another prefix.
    const other = prometheus(b.bridge, { registry, prefix: 'gateway2_' })
    expect(other.metricNames).toContain('gateway2_tokens_total')
    again.stop()
    other.stop()
  })

  test('BYOK requests are counted but never in the failover histogram', async () => {
    const b = await start(h, { providers: { openai: { keys: [testKey('pbyok')], baseURL: h.up.url } } })
    const registry = new Registry()
    prometheus(b.bridge, { registry })
    h.up.handle(json(429, { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } }))
    await post(b.url, '/openai/v1/chat/completions', {}, { authorization: 'Bearer sk-client-own-key-0123456789' })
    await b.waitForRecords(1)
    const text = await registry.metrics()
    expect(series(text, 'aibridge_requests_total')).toEqual({ 'provider="openai",credential_kind="byok",outcome="upstream_error"': 1 })
    expect(series(text, 'aibridge_key_pool_failover_attempts_count')).toEqual({})
    expect(text).not.toContain('sk-client')
  })

  test('options are checked up front', async () => {
    const b = await start(h, { providers: { openai: { keys: [testKey('popt')], baseURL: h.up.url } } })
    expect(() => prometheus({} as Bridge)).toThrow(AibridgeOptionError)
    expect(() => prometheus(b.bridge, { registery: new Registry() } as never)).toThrow(/"registery" is not an option/)
    expect(() => prometheus(b.bridge, { registry: {} as Registry })).toThrow(/registry must be a prom-client Registry/)
    expect(() => prometheus(b.bridge, { registry: new Registry(), prefix: 'has space' })).toThrow(/prefix/)
    expect(() => prometheus(b.bridge, { registry: new Registry(), maxModels: -1 })).toThrow(/maxModels/)
    // The default registry when none is given.
    const exporter = prometheus(b.bridge)
    expect(await register.metrics()).toContain('aibridge_key_pool_state{provider="openai",state="valid"} 1')
    exporter.stop()
    expect(await register.metrics()).not.toContain('aibridge_')
  })
})

/** A stand-in bridge whose events the test sends itself. */
function scriptedBridge(states: Record<string, KeyState[]> = { anthropic: [], openai: [] }) {
  const observers: BridgeObserver[] = []
  const bridge = {
    dispatch: () => Promise.resolve(undefined),
    providerNames: Object.keys(states),
    keyStates: () => states,
    observe(o: BridgeObserver) {
      observers.push(o)
      return () => observers.splice(observers.indexOf(o), 1)
    },
  } as unknown as Bridge
  const end = (record: Partial<InterceptionRecord>) => {
    const full: InterceptionRecord = {
      id: 'r',
      provider: 'anthropic',
      method: 'POST',
      path: '/v1/messages',
      credentialKind: 'centralized',
      principal: null,
      credentialHint: null,
      keysTried: [],
      attempts: 1,
      status: 200,
      outcome: 'ok',
      upstreamRequestId: null,
      startedAt: 0,
      durationMs: 1200,
      firstByteMs: 300,
      model: null,
      usage: null,
      ...record,
    }
    for (const o of observers) o.requestEnded?.(full)
  }
  return { bridge, end, observers }
}

describe('aibridge_tokens_total', () => {
  const usage = (inputTokens: number | null, outputTokens: number | null, cacheReadTokens: number | null = null, cacheWriteTokens: number | null = null) => ({
    inputTokens,
    outputTokens,
    cacheReadTokens,
    cacheWriteTokens,
  })

  test('adds up the usage of each record by provider, model and kind', async () => {
    const { bridge, end } = scriptedBridge()
    const registry = new Registry()
    prometheus(bridge, { registry })
    end({ model: 'claude-sonnet-4-6', usage: usage(12, 6, 100, 50) })
    end({ model: 'claude-sonnet-4-6', usage: usage(8, 4, null, null) })
    end({ provider: 'openai', model: 'gpt-4.1-2025-04-14', usage: usage(19, 10, 0) })
    end({ provider: 'openai', model: null, usage: usage(5, null) })
    end({ provider: 'openai', model: 'gpt-4.1-2025-04-14', usage: null })
    expect(series(await registry.metrics(), 'aibridge_tokens_total')).toEqual({
      'provider="anthropic",model="claude-sonnet-4-6",kind="input"': 20,
      'provider="anthropic",model="claude-sonnet-4-6",kind="output"': 10,
      'provider="anthropic",model="claude-sonnet-4-6",kind="cache_read"': 100,
      'provider="anthropic",model="claude-sonnet-4-6",kind="cache_write"': 50,
      'provider="openai",model="gpt-4.1-2025-04-14",kind="input"': 19,
      'provider="openai",model="gpt-4.1-2025-04-14",kind="output"': 10,
      'provider="openai",model="gpt-4.1-2025-04-14",kind="cache_read"': 0,
      'provider="openai",model="unknown",kind="input"': 5,
    })
  })

  test('keeps at most maxModels model names; the rest count as other', async () => {
    const { bridge, end } = scriptedBridge()
    const registry = new Registry()
    prometheus(bridge, { registry, maxModels: 2 })
    for (const model of ['m1', 'm2', 'm3', 'm1', 'm4']) end({ model, usage: usage(1, null) })
    expect(series(await registry.metrics(), 'aibridge_tokens_total')).toEqual({
      'provider="anthropic",model="m1",kind="input"': 2,
      'provider="anthropic",model="m2",kind="input"': 1,
      'provider="anthropic",model="other",kind="input"': 2,
    })
  })

  test('stop() leaves the stand-in bridge with no listener', () => {
    const { bridge, observers } = scriptedBridge()
    const exporter = prometheus(bridge, { registry: new Registry() })
    expect(observers).toHaveLength(1)
    exporter.stop()
    exporter.stop()
    expect(observers).toHaveLength(0)
  })
})
