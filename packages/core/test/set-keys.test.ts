import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, echoKey, json, keyServing, rateLimited, type Script } from '../../../test/support/upstream.js'
import { gate, until } from '../../../test/support/wait.js'
import { AibridgeArgumentError, AibridgeOptionError, createBridge, maskKey, MemoryKeyStore, type Bridge } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('sk1')
const K2 = testKey('sk2')
const K3 = testKey('sk3')
const K4 = testKey('sk4')
const UNAUTHORIZED: Script = json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } })

const states = (bridge: Bridge) => bridge.keyStates().openai!.map((k) => [k.hint, k.state])

describe('setKeys: validation', () => {
  test('bad keys are refused with the messages of creation, never showing a key, and the pool stays as it was', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url }, strict: { type: 'openai', keys: [K1], byok: false, baseURL: h.up.url } } })
    const creationError = (keys: unknown): string => {
      try {
        createBridge({ providers: { openai: { keys: keys as string[] } } })
      } catch (err) {
        return (err as Error).message
      }
      throw new Error('no error')
    }
    for (const keys of [[K2, ''], [K2, K2], [K2, 'sk with space'], [K2, 42]]) {
      let message = ''
      expect(() => {
        try {
          b.bridge.setKeys('openai', keys as string[])
        } catch (err) {
          message = (err as Error).message
          throw err
        }
      }).toThrow(AibridgeOptionError)
      expect(message).toBe(creationError(keys))
      expect(message).not.toContain(K2)
    }
    expect(() => b.bridge.setKeys('openai', K2 as unknown as string[])).toThrow(/^aibridge: setKeys: providers\.openai\.keys must be an array of keys, got a \d+-character string \(sk-s\.\.\.-sk2\)$/)
    expect(() => b.bridge.setKeys('strict', [])).toThrow('aibridge: providers.strict has no keys and byok is false: no request could be served')
    expect(() => b.bridge.setKeys('nope', [K2])).toThrow('aibridge: setKeys(provider, keys): no provider "nope" (configured: openai, strict)')
    expect(() => b.bridge.setKeys(K2, [K2])).toThrow(AibridgeArgumentError)
    expect(states(b.bridge)).toEqual([[maskKey(K1), 'valid']])
    h.up.handle(echoKey)
    expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K1)
  })

  test('keys are trimmed as at creation, and [] makes a BYOK-only provider where byok allows it', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(echoKey)
    b.bridge.setKeys('openai', [` ${K2}\n`])
    expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K2)
    b.bridge.setKeys('openai', [])
    expect(b.bridge.keyStates().openai).toEqual([])
    const res = await post(b.url, '/openai/v1/x', {})
    expect(res.status).toBe(401)
    expect(res.body.toString()).toContain('has no key pool')
  })
})

describe('setKeys: state', () => {
  test('keys that stay keep their state, new keys start valid, removed keys are gone from keyStates and never chosen', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '60' }), '*': echoKey }))
    expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K2)
    const before = b.bridge.keyStates().openai![0]!

    b.bridge.setKeys('openai', [K3, K1])
    // At once, in the new order: K1 keeps its cooldown (same id, same deadline), K3 is valid, K2 is gone.
    expect(b.bridge.keyStates().openai).toEqual([{ id: expect.stringMatching(/^k_/), hint: maskKey(K3), state: 'valid' }, before])
    h.up.requests.length = 0
    for (let i = 0; i < 3; i++) expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K3)
    expect(h.up.requests.map((s) => s.key)).toEqual([K3, K3, K3])

    // Back in the pool later, K2 has no mark (it never had one) and K1 still has its own.
    b.bridge.setKeys('openai', [K1, K2])
    expect(states(b.bridge)).toEqual([[maskKey(K1), 'temporary'], [maskKey(K2), 'valid']])
    b.bridge.resetKey('openai', maskKey(K1))
    h.up.handle(echoKey)
    expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K1)
  })

  test("a key's state follows it through a shared store: a key added here comes in with the mark another process gave it", async () => {
    const store = new MemoryKeyStore()
    const a = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, store })
    const b = await h.start({ providers: { openai: { keys: [K2], baseURL: h.up.url } }, store })
    h.up.handle(UNAUTHORIZED)
    expect((await post(a.url, '/openai/v1/x', {})).status).toBe(502)
    b.bridge.setKeys('openai', [K1, K2])
    expect(states(b.bridge)).toEqual([[maskKey(K1), 'permanent'], [maskKey(K2), 'valid']])
    h.up.handle(echoKey)
    expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K2)
  })

  test('round-robin goes on over the new keys', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url, keyOrder: 'round-robin' } } })
    h.up.handle(echoKey)
    await keyServing(`${b.url}/openai/v1/x`)
    b.bridge.setKeys('openai', [K3, K4])
    const served = new Set<string>()
    for (let i = 0; i < 4; i++) served.add(await keyServing(`${b.url}/openai/v1/x`))
    expect([...served].sort()).toEqual([K3, K4].sort())
  })
})

describe('setKeys: requests in flight', () => {
  test('a request failing over when the keys change finishes on the keys it started with; the next one uses the new pool', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    const first = gate()
    h.up.handle(
      byKey({
        [K1]: async (seen, res, req) => {
          await first.promise
          return rateLimited({ 'retry-after': '60' })(seen, res, req)
        },
        '*': echoKey,
      }),
    )
    const pending = keyServing(`${b.url}/openai/v1/x`)
    await h.up.waitFor(1)
    b.bridge.setKeys('openai', [K3])
    first.open()
    expect(await pending).toBe(K2)
    expect(await keyServing(`${b.url}/openai/v1/x`)).toBe(K3)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3])
    const records = await b.waitForRecords(2)
    expect(records.map((r) => r.keysTried)).toEqual([[maskKey(K1), maskKey(K2)], [maskKey(K3)]])
  })

  test('a swap under load, through HTTP and bridge.fetch, fails no request; old keys revoked after the swap are never used again', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    const revoked = new Set<string>()
    const used: Array<[number, string]> = []

    h.up.handle((seen, res, req) => {
      used.push([seen.arrivedAt, seen.key!])
      const script = revoked.has(seen.key!) ? UNAUTHORIZED : echoKey
      // A little latency, so requests overlap the swap.
      setTimeout(() => void script(seen, res, req), 5)
    })
    const fetch = b.bridge.fetch('openai')
    const statuses: number[] = []
    let running = true
    const worker = async (i: number): Promise<void> => {
      while (running) {
        if (i % 2 === 0) statuses.push((await post(b.url, '/openai/v1/x', { i })).status)
        else {
          const res = await fetch('http://pool/v1/x', { method: 'POST', body: JSON.stringify({ i }) })
          await res.arrayBuffer()
          statuses.push(res.status)
        }
      }
    }
    const workers = Array.from({ length: 8 }, (_, i) => worker(i))
    await until(() => statuses.length >= 50, 10_000)
    b.bridge.setKeys('openai', [K3, K4])
    await until(() => statuses.length >= 100, 10_000)
    // The old keys are revoked at the provider once the swap is done.
    revoked.add(K1).add(K2)
    const usedAtRevoke = used.length
    const afterRevoke = statuses.length
    await until(() => statuses.length >= afterRevoke + 50, 10_000)
    running = false
    await Promise.all(workers)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(used.slice(usedAtRevoke).filter(([, key]) => key === K1 || key === K2)).toEqual([])
    expect(new Set(used.slice(-20).map(([, key]) => key))).toEqual(new Set([K3]))
    expect(b.bridge.keyStates().openai!.map((k) => [k.hint, k.state])).toEqual([[maskKey(K3), 'valid'], [maskKey(K4), 'valid']])
  })
})

describe('setKeys: logs', () => {
  test('a replacement is logged with hints, never keys', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    b.bridge.setKeys('openai', [K2, K3])
    const line = b.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'aibridge: keys replaced')
    expect(line).toMatchObject({ level: 30, provider: 'openai', keys: 2, added: [maskKey(K3)], removed: [maskKey(K1)] })
    for (const key of [K1, K2, K3]) expect(b.logs.join('\n')).not.toContain(key)
  })
})
