import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { MemoryKeyStore, type KeyStateStore } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

// A shared store is often networked and asynchronous under its synchronous contract. When it fails,
// the bridge keeps serving from what it knows: a store outage costs key state, never a request, and
// never the process (an unhandled rejection would end it).
const h = harness()
const K1 = testKey('sf1')
const K2 = testKey('sf2')

function failingStore(failures: { get?: boolean; mark?: 'throw' | 'reject'; clear?: 'throw' | 'reject' }): KeyStateStore {
  const inner = new MemoryKeyStore()
  const fail = (how: 'throw' | 'reject', op: string): void | Promise<void> => {
    const err = new Error(`ECONNRESET redis during ${op}`)
    if (how === 'throw') throw err
    return Promise.reject(err)
  }
  return {
    get(provider, keyId) {
      if (failures.get) throw new Error('ECONNRESET redis during get')
      return inner.get(provider, keyId)
    },
    mark(provider, keyId, mark) {
      inner.mark(provider, keyId, mark)
      if (failures.mark) return fail(failures.mark, 'mark') as void
    },
    clear(provider, keyId) {
      inner.clear(provider, keyId)
      if (failures.clear) return fail(failures.clear, 'clear') as void
    },
  }
}

const unhandled: unknown[] = []
process.on('unhandledRejection', (err) => void unhandled.push(err))

describe('a key store that fails', () => {
  for (const how of ['throw', 'reject'] as const) {
    test(`mark() that ${how}s: the request still fails over, the failure is logged, nothing is unhandled`, async () => {
      unhandled.length = 0
      const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, store: failingStore({ mark: how }) })
      h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }), '*': json(200, { served: true }) }))
      const r = await post(b.url, '/openai/v1/chat/completions', {})
      expect(r.status).toBe(200)
      expect(r.json()).toEqual({ served: true })
      expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toEqual([])
      const line = b.logs.map((l) => JSON.parse(l) as { op?: string; msg: string; err?: string }).find((l) => l.op === 'mark')
      expect(line).toMatchObject({ msg: expect.stringContaining('key store failed'), err: expect.stringContaining('ECONNRESET') })
      for (const l of b.logs) {
        expect(l).not.toContain(K1)
        expect(l).not.toContain(K2)
      }
    })
  }

  test('get() that throws: every key is treated as usable and requests are served', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } }, store: failingStore({ get: true }) })
    h.up.handle(json(200, { served: true }))
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(200)
    expect(b.bridge.keyStates().anthropic!.map((k) => k.state)).toEqual(['valid', 'valid'])
    expect(b.logs.some((l) => l.includes('"op":"get"'))).toBe(true)
  })

  test('clear() that rejects: resetKey does not throw and nothing is unhandled', async () => {
    unhandled.length = 0
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, store: failingStore({ clear: 'reject' }) })
    expect(() => b.bridge.resetKey('openai', b.bridge.keyStates().openai![0]!.id)).not.toThrow()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(unhandled).toEqual([])
  })
})
