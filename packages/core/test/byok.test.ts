import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { rateLimited } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const P1 = testKey('pool1')
const P2 = testKey('pool2')
const CLIENT = 'sk-client-own-credential-7777777777'

async function start(extra: Record<string, unknown> = {}, providerExtra: Record<string, unknown> = {}) {
  const store = recordingStore()
  const b = await h.start({
    providers: {
      anthropic: { keys: [P1, P2], baseURL: h.up.url, ...providerExtra },
      openai: { keys: [P1, P2], baseURL: h.up.url, ...providerExtra },
      copilot: { type: 'openai', baseURL: `${h.up.url}/copilot`, keys: [] },
    },
    store,
    ...extra,
  })
  return { b, store }
}

describe("byok 'auto' (default): a client credential is used for exactly one attempt", () => {
  const cases: Array<{ name: string; path: string; headers: Record<string, string>; provider: 'anthropic' | 'openai' }> = [
    { name: 'anthropic x-api-key', path: '/anthropic/v1/messages', headers: { 'x-api-key': CLIENT }, provider: 'anthropic' },
    { name: 'anthropic authorization (OAuth token)', path: '/anthropic/v1/messages', headers: { authorization: `Bearer ${CLIENT}` }, provider: 'anthropic' },
    { name: 'openai authorization', path: '/openai/v1/chat/completions', headers: { authorization: `Bearer ${CLIENT}` }, provider: 'openai' },
  ]
  for (const c of cases) {
    test(`${c.name}: the credential goes upstream, no pool key is added`, async () => {
      const { b, store } = await start()
      const r = await post(b.url, c.path, { model: 'm' }, c.headers)
      expect(r.status).toBe(200)
      const [seen] = h.up.requests
      expect(seen!.key).toBe(CLIENT)
      expect(JSON.stringify(seen!.headers)).not.toContain(P1)
      expect(JSON.stringify(seen!.headers)).not.toContain(P2)
      expect(store.marks).toHaveLength(0)
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ credentialKind: 'byok', credentialHint: null, keysTried: [], attempts: 1, outcome: 'ok' })
    })

    for (const status of [429, 401, 403, 402]) {
      test(`${c.name}: an upstream ${status} goes to the client as is, nothing marked, no failover`, async () => {
        const { b, store } = await start()
        const body = JSON.stringify({ error: { message: `byok ${status}`, type: 'x', code: 'insufficient_quota' } })
        h.up.handle((_s, res) => void res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '17' }).end(body))
        const r = await post(b.url, c.path, {}, c.headers)
        expect(r.status).toBe(status)
        expect(r.text).toBe(body)
        expect(r.headers['retry-after']).toBe('17')
        expect(h.up.requests).toHaveLength(1)
        expect(store.marks).toHaveLength(0)
        expect(b.bridge.keyStates()[c.provider]!.every((k) => k.state === 'valid')).toBe(true)
      })
    }
  }

  test('an empty x-api-key or a bare "Bearer" is no credential: the pool serves', async () => {
    const { b } = await start()
    await post(b.url, '/anthropic/v1/messages', {}, { 'x-api-key': '' })
    await post(b.url, '/openai/v1/chat/completions', {}, { authorization: 'Bearer ' })
    await post(b.url, '/anthropic/v1/messages', {}, { authorization: 'Bearer' })
    expect(h.up.requests.map((s) => s.key)).toEqual([P1, P1, P1])
    expect(h.up.requests[1]!.headers.authorization).toBe(`Bearer ${P1}`)
    const records = await b.waitForRecords(3)
    expect(records.every((r) => r.credentialKind === 'centralized')).toBe(true)
  })

  test('an OpenAI-type provider does not treat x-api-key as a credential; it is stripped and the pool serves', async () => {
    const { b } = await start()
    await post(b.url, '/openai/v1/chat/completions', {}, { 'x-api-key': CLIENT })
    const [seen] = h.up.requests
    expect(seen!.headers.authorization).toBe(`Bearer ${P1}`)
    expect(seen!.headers['x-api-key']).toBeUndefined()
    expect(JSON.stringify(seen!.headers)).not.toContain(CLIENT)
  })

  test('BYOK leaves the pool untouched even when the pool is cooling', async () => {
    const { b } = await start()
    h.up.queue(rateLimited({ 'retry-after': '30' }), rateLimited({ 'retry-after': '30' }))
    const exhausted = await post(b.url, '/openai/v1/x', {})
    expect(exhausted.status).toBe(429)
    const r = await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT}` })
    expect(r.status).toBe(200)
    expect(h.up.requests.at(-1)!.key).toBe(CLIENT)
  })
})

describe('BYOK-only provider (no keys)', () => {
  test('without a credential: 401 provider-shaped, no upstream call', async () => {
    const { b } = await start()
    const r = await post(b.url, '/copilot/chat/completions', {})
    expect(r.status).toBe(401)
    expect(r.json()).toEqual({ error: { message: expect.stringContaining('send your own credential'), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })
    expect(h.up.requests).toHaveLength(0)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'rejected', status: 401, attempts: 0 })
  })

  test('anthropic-type BYOK-only provider without a credential: Anthropic-shaped 401', async () => {
    const b = await h.start({ providers: { claude: { type: 'anthropic', keys: [], baseURL: h.up.url } } })
    const r = await post(b.url, '/claude/v1/messages', {})
    expect(r.status).toBe(401)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) } })
    expect(h.up.requests).toHaveLength(0)
  })

  test('with a credential: passes to the base URL', async () => {
    const { b } = await start()
    const r = await post(b.url, '/copilot/chat/completions', {}, { authorization: `Bearer ${CLIENT}` })
    expect(r.status).toBe(200)
    expect(h.up.requests[0]).toMatchObject({ url: '/copilot/chat/completions', key: CLIENT })
  })
})

describe('byok false: client credentials are removed and a pool key injected', () => {
  for (const where of ['bridge', 'provider'] as const) {
    test(`set on the ${where}`, async () => {
      const b = await h.start({
        ...(where === 'bridge' ? { byok: false as const } : {}),
        providers: {
          anthropic: { keys: [P1], baseURL: h.up.url, ...(where === 'provider' ? { byok: false as const } : {}) },
          openai: { keys: [P2], baseURL: h.up.url, ...(where === 'provider' ? { byok: false as const } : {}) },
        },
      })
      await post(b.url, '/anthropic/v1/messages', {}, { 'x-api-key': CLIENT, authorization: `Bearer ${CLIENT}`, 'api-key': CLIENT })
      await post(b.url, '/openai/v1/chat/completions', {}, { 'x-api-key': CLIENT, authorization: `Bearer ${CLIENT}`, 'api-key': CLIENT })
      const [a, o] = h.up.requests
      expect(a!.headers['x-api-key']).toBe(P1)
      expect(a!.headers.authorization).toBeUndefined()
      expect(o!.headers.authorization).toBe(`Bearer ${P2}`)
      expect(o!.headers['x-api-key']).toBeUndefined()
      for (const s of [a!, o!]) {
        expect(s.headers['api-key']).toBeUndefined()
        expect(JSON.stringify(s.headers)).not.toContain(CLIENT)
      }
      const records = await b.waitForRecords(2)
      expect(records.every((r) => r.credentialKind === 'centralized')).toBe(true)
    })
  }

  test('a provider can opt back into BYOK under a bridge-wide false', async () => {
    const b = await h.start({
      byok: false,
      providers: { openai: { keys: [P1], baseURL: h.up.url }, anthropic: { keys: [P2], baseURL: h.up.url, byok: 'auto' } },
    })
    await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT}` })
    await post(b.url, '/anthropic/v1/messages', {}, { 'x-api-key': CLIENT })
    expect(h.up.requests.map((s) => s.key)).toEqual([P1, CLIENT])
  })
})

describe('byok as a function', () => {
  test('decides per request, given the request and provider name', async () => {
    const asked: string[] = []
    const b = await h.start({
      byok: (req, provider) => {
        asked.push(provider)
        return req.headers['x-tenant'] === 'bring-your-own'
      },
      providers: { openai: { keys: [P1], baseURL: h.up.url } },
    })
    await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT}`, 'x-tenant': 'bring-your-own' })
    await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT}`, 'x-tenant': 'house' })
    await post(b.url, '/openai/v1/x', {})
    expect(h.up.requests.map((s) => s.key)).toEqual([CLIENT, P1, P1])
    expect(JSON.stringify(h.up.requests[1]!.headers)).not.toContain(CLIENT)
    // Only asked when the request carries a credential.
    expect(asked).toEqual(['openai', 'openai'])
  })

  test('a function that throws gives 500 in the provider shape, outcome internal_error, logged without the credential', async () => {
    const b = await h.start({
      byok: () => {
        throw new Error('tenant lookup failed')
      },
      providers: { openai: { keys: [P1], baseURL: h.up.url } },
    })
    const r = await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT}` })
    expect(r.status).toBe(500)
    expect(r.json()).toMatchObject({ error: { type: 'server_error', code: 'internal_error' } })
    expect(h.up.requests).toHaveLength(0)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'internal_error', status: 500, attempts: 0 })
    expect(b.logs.join('\n')).toContain('tenant lookup failed')
    expect(b.logs.join('\n')).not.toContain(CLIENT)
  })

  test('an async function (a promise, even one that rejects) is refused: 500 internal_error, nothing unhandled', async () => {
    for (const answer of [() => Promise.resolve(true), () => Promise.reject(new Error('tenant db down'))]) {
      const b = await h.start({ byok: answer as never, providers: { openai: { keys: [P1], baseURL: h.up.url } } })
      const r = await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT}` })
      expect(r.status).toBe(500)
      expect(r.json()).toMatchObject({ error: { type: 'server_error', code: 'internal_error' } })
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ outcome: 'internal_error', status: 500, attempts: 0 })
      expect(b.logs.join('\n')).toContain('the byok function must return a boolean, not a promise')
    }
    expect(h.up.requests).toHaveLength(0)
  })
})

describe('centralized requests never forward client credential headers', () => {
  test('the pool key is injected as x-api-key (Anthropic) and Authorization: Bearer (OpenAI)', async () => {
    const { b } = await start()
    // `api-key` (Azure) and `x-goog-api-key` (Gemini) are no credential to these dialects, but still one.
    await post(b.url, '/anthropic/v1/messages', {}, { 'api-key': CLIENT, 'x-goog-api-key': CLIENT })
    await post(b.url, '/openai/v1/chat/completions', {}, { 'api-key': CLIENT, 'x-goog-api-key': CLIENT })
    const [a, o] = h.up.requests
    expect(a!.headers['x-api-key']).toBe(P1)
    expect(a!.headers.authorization).toBeUndefined()
    expect(o!.headers.authorization).toBe(`Bearer ${P1}`)
    expect(o!.headers['x-api-key']).toBeUndefined()
    for (const s of [a!, o!]) {
      expect(s.headers['api-key']).toBeUndefined()
      expect(s.headers['x-goog-api-key']).toBeUndefined()
    }
  })

  test('on failover the replayed request carries only the next pool key', async () => {
    const b = await h.start({ byok: false, providers: { anthropic: { keys: [P1, P2], baseURL: h.up.url } } })
    h.up.queue(rateLimited({ 'retry-after': '5' }, 'anthropic'))
    await post(b.url, '/anthropic/v1/messages', {}, { 'x-api-key': CLIENT })
    expect(h.up.requests.map((s) => s.headers['x-api-key'])).toEqual([P1, P2])
  })
})
