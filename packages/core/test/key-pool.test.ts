import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { AibridgeArgumentError, AibridgeError, AibridgeKeyNotFoundError, createBridge, fingerprint, maskKey } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('kp1')
const K2 = testKey('kp2')
const K3 = testKey('kp3')

describe('hints', () => {
  test('20+ characters keep the first 4 and last 4', () => {
    expect(maskKey('sk-ant-api03-abcdefgh')).toBe('sk-a...efgh')
    expect(maskKey('abcdefghijklmnopqrst')).toBe('abcd...qrst')
  })
  test('10 to 19 keep 2 and 2', () => {
    expect(maskKey('abcdefghijklmnopqrs')).toBe('ab...rs')
    expect(maskKey('abcdefghij')).toBe('ab...ij')
  })
  test('5 to 9 keep 1 and 1', () => {
    expect(maskKey('abcdefghi')).toBe('a...i')
    expect(maskKey('abcde')).toBe('a...e')
  })
  test('under 5 give ...', () => {
    expect(maskKey('abcd')).toBe('...')
    expect(maskKey('a')).toBe('...')
    expect(maskKey('')).toBe('...')
  })
  test('a hint never equals or contains its key', () => {
    for (let n = 1; n <= 64; n++) {
      const key = Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7) % 90))).join('')
      const hint = maskKey(key)
      expect(hint).not.toBe(key)
      expect(hint.includes(key)).toBe(false)
      // At most 8 characters of the key survive, and never more than half of it.
      expect(hint.replace('...', '').length).toBeLessThanOrEqual(Math.min(8, Math.floor(n / 2)))
    }
  })
})

describe('ids', () => {
  test('a stable fingerprint that does not contain the key', () => {
    expect(fingerprint(K1)).toBe(fingerprint(K1))
    expect(fingerprint(K1)).not.toBe(fingerprint(K2))
    expect(fingerprint(K1)).toMatch(/^k_[0-9a-f]{16}$/)
  })
})

describe('keyStates', () => {
  test('every provider and key with id, hint and state; no secret anywhere', () => {
    const bridge = createBridge({
      providers: {
        anthropic: { keys: [K1, K2] },
        openai: { keys: [K3], baseURL: 'http://127.0.0.1:9' },
        copilot: { type: 'openai', baseURL: 'http://127.0.0.1:9/copilot', keys: [] },
      },
    })
    h.own(bridge)
    const states = bridge.keyStates()
    expect(states).toEqual({
      anthropic: [
        { id: fingerprint(K1), hint: maskKey(K1), state: 'valid' },
        { id: fingerprint(K2), hint: maskKey(K2), state: 'valid' },
      ],
      openai: [{ id: fingerprint(K3), hint: maskKey(K3), state: 'valid' }],
      copilot: [],
    })
    const dump = JSON.stringify(states)
    for (const k of [K1, K2, K3]) expect(dump).not.toContain(k)
  })

  test('a cooling key reports reason, status and until', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '9' }), '*': json(200, {}) }))
    const before = Date.now()
    await post(b.url, '/openai/v1/x', {})
    const [k1] = b.bridge.keyStates().openai!
    expect(k1).toMatchObject({ id: fingerprint(K1), hint: maskKey(K1), state: 'temporary', reason: 'rate_limited', status: 429 })
    expect(k1!.until! - before).toBeGreaterThanOrEqual(9000)
    expect(k1!.until! - before).toBeLessThan(10_000)
  })
})

describe('key order', () => {
  test('ordered (default): the primary serves every request while valid', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2, K3], baseURL: h.up.url } } })
    for (let i = 0; i < 4; i++) await post(b.url, '/openai/v1/x', {})
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K1, K1, K1])
  })

  test("keyOrder 'round-robin': each request starts one key further", async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2, K3], baseURL: h.up.url } }, keyOrder: 'round-robin' })
    for (let i = 0; i < 4; i++) await post(b.url, '/openai/v1/x', {})
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3, K1])
  })

  test('round-robin per provider, and it still skips cooling keys and wraps around', async () => {
    const b = await h.start({
      providers: {
        openai: { keys: [K1, K2, K3], baseURL: h.up.url, keyOrder: 'round-robin' },
        anthropic: { keys: [K1, K2], baseURL: h.up.url },
      },
    })
    h.up.handle(byKey({ [K2]: rateLimited({ 'retry-after': '30' }), '*': json(200, {}) }))
    await post(b.url, '/openai/v1/x', {}) // starts at K1
    await post(b.url, '/openai/v1/x', {}) // starts at K2: 429, then K3
    await post(b.url, '/openai/v1/x', {}) // starts at K3
    await post(b.url, '/openai/v1/x', {}) // starts at K1
    await post(b.url, '/openai/v1/x', {}) // starts at K2, cooling: skipped to K3
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3, K3, K1, K3])
    await post(b.url, '/anthropic/v1/messages', {})
    await post(b.url, '/anthropic/v1/messages', {})
    expect(h.up.requests.slice(6).map((s) => s.key)).toEqual([K1, K1])
  })

  test('round-robin failover walks every key once, wrapping past the end', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2, K3], baseURL: h.up.url } }, keyOrder: 'round-robin' })
    await post(b.url, '/openai/v1/x', {}) // K1, moves the start to K2
    h.up.handle(rateLimited({ 'retry-after': '1' }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(429)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3, K1])
  })
})

describe('resetKey', () => {
  function bridgeWith(keys: string[]) {
    const bridge = createBridge({ providers: { openai: { keys, baseURL: 'http://127.0.0.1:9' } } })
    h.own(bridge)
    return bridge
  }

  test('an unknown provider or key throws AibridgeKeyNotFoundError', () => {
    const bridge = bridgeWith([K1])
    expect(() => bridge.resetKey('nope', maskKey(K1))).toThrow(AibridgeKeyNotFoundError)
    expect(() => bridge.resetKey('openai', 'sk-x...nope')).toThrow(AibridgeKeyNotFoundError)
  })

  test('arguments that are not strings throw AibridgeArgumentError, not a TypeError', () => {
    const bridge = bridgeWith([K1])
    const untyped = bridge.resetKey.bind(bridge) as (provider: unknown, idOrHint: unknown) => void
    for (const [provider, idOrHint] of [['openai', undefined], ['openai', null], ['openai', 3], [undefined, maskKey(K1)], [{}, maskKey(K1)]]) {
      expect(() => untyped(provider, idOrHint), `${String(provider)}, ${String(idOrHint)}`).toThrow(AibridgeArgumentError)
      expect(() => untyped(provider, idOrHint)).toThrow(expect.objectContaining({ code: 'AIBRIDGE_ARGUMENT' }))
      expect(() => untyped(provider, idOrHint)).toThrow(AibridgeError)
    }
    expect(() => untyped('openai', undefined)).toThrow('resetKey(provider, idOrHint) takes two strings, got string and undefined')
  })

  test('a key passed instead of an id or hint is never echoed in the error', () => {
    const bridge = bridgeWith([K1])
    expect(() => bridge.resetKey('openai', K2)).toThrow(AibridgeKeyNotFoundError)
    try {
      bridge.resetKey('openai', K2)
    } catch (err) {
      expect((err as Error).message).not.toContain(K2)
      expect((err as Error).message).not.toContain(K2.slice(4, -4))
    }
    // An id or hint that matches nothing is named, to help the caller.
    expect(() => bridge.resetKey('openai', 'sk-x...nope')).toThrow(/'sk-x\.\.\.nope'/)
    expect(() => bridge.resetKey('openai', 'k_0123456789abcdef')).toThrow(/'k_0123456789abcdef'/)
  })

  test('a hint shared by two keys is refused; the message offers ids, never keys', () => {
    const a = 'sk-proj-AAAAAAAAAAAAAAAAAAAA-1234'
    const c = 'sk-proj-BBBBBBBBBBBBBBBBBBBB-1234'
    expect(maskKey(a)).toBe(maskKey(c))
    const bridge = bridgeWith([a, c])
    let message = ''
    try {
      bridge.resetKey('openai', maskKey(a))
    } catch (err) {
      expect(err).toBeInstanceOf(AibridgeKeyNotFoundError)
      message = (err as Error).message
    }
    expect(message).toContain(fingerprint(a))
    expect(message).toContain(fingerprint(c))
    expect(message).not.toContain(a)
    expect(message).not.toContain(c)
    expect(() => bridge.resetKey('openai', fingerprint(c))).not.toThrow()
  })
})
