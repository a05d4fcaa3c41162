import Anthropic from '@anthropic-ai/sdk'
import type { IncomingMessage } from 'node:http'
import OpenAI from 'openai'
import { describe, expect, test } from 'vitest'
import { open, post } from '../../../test/support/http.js'
import { echoKey, json, rateLimited } from '../../../test/support/upstream.js'
import { gate, sleep, until } from '../../../test/support/wait.js'
import { AibridgeOptionError, createBridge, maskKey, type Authenticate, type BridgeOptions, type KeyMarkedEvent, type PoolExhaustedEvent, type Principal } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('au1')
const K2 = testKey('au2')
const CLIENT_KEY = 'sk-client-own-provider-key-7777777777'
// Host tokens: distinctive, so finding one anywhere means it leaked.
const ALICE = 'gw-token-alice-Zx81Qp0Lm2Nv7Rt4'
const BOB = 'gw-token-bob-Hy62Jd9Ks3Wf5Gc1'
const UNKNOWN = 'gw-token-unknown-Ab12Cd34Ef56Gh78'
const TOKENS: Record<string, Principal> = { [ALICE]: { id: 'user-alice', plan: 'pro' }, [BOB]: { id: 'user-bob' } }

/** A host's check: a table lookup, async as a database would be. Records each call. */
function checker() {
  const calls: Array<{ token: string; req: IncomingMessage }> = []
  const authenticate: Authenticate = async (token, req) => {
    calls.push({ token, req })
    await sleep(1)
    return TOKENS[token] ?? null
  }
  return { calls, authenticate }
}

async function bridge(extra: Partial<BridgeOptions> = {}) {
  const { calls, authenticate } = checker()
  const b = await h.start({
    providers: { openai: { keys: [K1, K2], baseURL: h.up.url }, anthropic: { keys: [K1, K2], baseURL: h.up.url } },
    authenticate,
    ...extra,
  })
  h.up.handle(echoKey)
  return { ...b, calls }
}

/** Nothing anywhere holds a host token. */
function expectNoToken(where: unknown[]): void {
  const all = JSON.stringify([...where, h.up.requests.map((s) => [s.url, s.headers, s.body.toString()])])
  for (const token of [ALICE, BOB, UNKNOWN]) expect(all).not.toContain(token)
}

describe('authenticate: the token in the provider header', () => {
  test.each([
    ['x-api-key', { 'x-api-key': ALICE }],
    ['Authorization: Bearer', { authorization: `Bearer ${ALICE}` }],
    ['api-key (Azure)', { 'api-key': ALICE }],
  ])('%s: checked, taken off, a pool key injected; the principal in the record', async (_name, headers) => {
    const b = await bridge()
    const res = await post(b.url, '/openai/v1/chat/completions', { model: 'm' }, headers)
    expect(res.status).toBe(200)
    expect(res.json<{ key: string }>().key).toBe(K1)
    expect(b.calls.map((c) => c.token)).toEqual([ALICE])
    expect(b.calls[0]!.req.url).toBe('/openai/v1/chat/completions')
    expect(h.up.requests[0]!.headers.authorization).toBe(`Bearer ${K1}`)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ principal: 'user-alice', credentialKind: 'centralized', credentialHint: maskKey(K1), outcome: 'ok' })
    expectNoToken([b.records, b.logs])
  })

  test("Gemini: the token in x-goog-api-key or in the key query parameter, neither sent upstream", async () => {
    const b = await bridge({ providers: { gemini: { keys: [K1], baseURL: h.up.url } } })
    const path = '/gemini/v1beta/models/gemini-2.5-flash:generateContent'
    expect((await post(b.url, path, {}, { 'x-goog-api-key': ALICE })).status).toBe(200)
    expect((await post(b.url, `${path}?alt=sse&key=${encodeURIComponent(BOB)}`, {})).status).toBe(200)
    expect(b.calls.map((c) => c.token)).toEqual([ALICE, BOB])
    expect(h.up.requests.map((s) => [s.url, s.headers['x-goog-api-key']])).toEqual([
      ['/v1beta/models/gemini-2.5-flash:generateContent', K1],
      ['/v1beta/models/gemini-2.5-flash:generateContent?alt=sse', K1],
    ])
    const records = await b.waitForRecords(2)
    expect(records.map((r) => r.principal)).toEqual(['user-alice', 'user-bob'])
    expectNoToken([b.records, b.logs])
  })

  test('the official SDKs send the host token as their API key, and records say who spent what', async () => {
    const b = await bridge()
    const openai = new OpenAI({ baseURL: `${b.url}/openai/v1`, apiKey: ALICE, maxRetries: 0 })
    const anthropic = new Anthropic({ baseURL: `${b.url}/anthropic`, apiKey: BOB, maxRetries: 0 })
    h.up.handle(json(200, { id: 'x', object: 'list', data: [] }))
    await openai.models.list()
    await anthropic.models.list()
    const records = await b.waitForRecords(2)
    expect(records.map((r) => [r.provider, r.principal, r.credentialKind])).toEqual([
      ['openai', 'user-alice', 'centralized'],
      ['anthropic', 'user-bob', 'centralized'],
    ])
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K1])
    expectNoToken([b.records, b.logs])
  })

  test('a key-shaped provider credential is still only a token: never BYOK, never upstream', async () => {
    const b = await bridge()
    const res = await post(b.url, '/openai/v1/chat/completions', {}, { authorization: `Bearer ${CLIENT_KEY}` })
    expect(res.status).toBe(401)
    expect(b.calls.map((c) => c.token)).toEqual([CLIENT_KEY])
    expect(h.up.requests).toHaveLength(0)
  })
})

describe('authenticate: refused', () => {
  test('an unknown token gets a provider-shaped 401 each SDK raises as AuthenticationError, with no upstream call', async () => {
    const b = await bridge()
    const openaiErr = await new OpenAI({ baseURL: `${b.url}/openai/v1`, apiKey: UNKNOWN, maxRetries: 0 }).models.list().catch((e: unknown) => e)
    expect(openaiErr).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((openaiErr as Error).message).toContain('aibridge: the token is not valid for this gateway')
    const anthropicErr = await new Anthropic({ baseURL: `${b.url}/anthropic`, apiKey: UNKNOWN, maxRetries: 0 }).models.list().catch((e: unknown) => e)
    expect(anthropicErr).toBeInstanceOf(Anthropic.AuthenticationError)
    expect((anthropicErr as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    expect(h.up.requests).toHaveLength(0)
    const records = await b.waitForRecords(2)
    expect(records.map((r) => [r.status, r.outcome, r.principal, r.attempts])).toEqual([
      [401, 'rejected', null, 0],
      [401, 'rejected', null, 0],
    ])
    expectNoToken([b.records, b.logs, String(openaiErr), String(anthropicErr)])
  })

  test.each([
    ['no credential at all', {}],
    ['an empty Bearer', { authorization: 'Bearer ' }],
    ['a Basic credential', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['an empty x-aibridge-token', { 'x-aibridge-token': '', authorization: `Bearer ${CLIENT_KEY}` }],
  ])('%s: 401 without asking authenticate', async (_name, headers) => {
    const b = await bridge()
    const res = await post(b.url, '/anthropic/v1/messages', {}, headers)
    expect(res.status).toBe(401)
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    expect(b.calls).toHaveLength(0)
    expect(h.up.requests).toHaveLength(0)
  })

  test('false and undefined refuse too', async () => {
    const b = await bridge({ authenticate: (token) => (token === ALICE ? false : undefined) })
    expect((await post(b.url, '/openai/v1/x', {}, { 'x-api-key': ALICE })).status).toBe(401)
    expect((await post(b.url, '/openai/v1/x', {}, { 'x-api-key': BOB })).status).toBe(401)
    expect(h.up.requests).toHaveLength(0)
  })
})

describe('authenticate: a function that fails', () => {
  test.each([
    ['throws', (token: string) => {
      throw new Error(`lookup failed for ${token}`)
    }],
    ['rejects', async (token: string) => {
      throw new Error(`database down while checking ${token}`)
    }],
    ['returns something else', () => true as unknown as Principal],
    ['returns a principal without an id', () => ({ name: 'x' }) as unknown as Principal],
  ])('%s: a provider-shaped 500, logged without the token, no upstream call', async (_name, authenticate) => {
    const b = await bridge({ authenticate })
    const res = await post(b.url, '/openai/v1/chat/completions', {}, { authorization: `Bearer ${ALICE}` })
    expect(res.status).toBe(500)
    expect(res.json()).toMatchObject({ error: { type: 'server_error', code: 'internal_error' } })
    expect(h.up.requests).toHaveLength(0)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'internal_error', status: 500, principal: null })
    const line = b.logs.map((l) => JSON.parse(l) as { level: number; msg: string; err: string }).find((l) => l.msg === 'aibridge: authenticate failed')
    expect(line?.level).toBe(50)
    expect(line?.err).toMatch(/authenticate (threw|must return)/)
    expectNoToken([b.records, b.logs, res.text])
  })
})

describe('authenticate: BYOK beside host tokens', () => {
  test('the token in x-aibridge-token and the client\'s own key in the provider header: BYOK, attributed; the token never goes upstream', async () => {
    const b = await bridge()
    const res = await post(b.url, '/openai/v1/chat/completions', {}, { 'x-aibridge-token': BOB, authorization: `Bearer ${CLIENT_KEY}` })
    expect(res.json<{ key: string }>().key).toBe(CLIENT_KEY)
    expect(b.calls.map((c) => c.token)).toEqual([BOB])
    expect(h.up.requests[0]!.headers['x-aibridge-token']).toBeUndefined()
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ principal: 'user-bob', credentialKind: 'byok', credentialHint: null })
    expectNoToken([b.records, b.logs])
  })

  test('through the SDKs: defaultHeaders carry the token, apiKey the client\'s own key', async () => {
    const b = await bridge()
    const anthropic = new Anthropic({ baseURL: `${b.url}/anthropic`, apiKey: CLIENT_KEY, defaultHeaders: { 'x-aibridge-token': ALICE }, maxRetries: 0 })
    h.up.handle(json(200, { data: [], has_more: false, first_id: null, last_id: null }))
    await anthropic.models.list()
    expect(h.up.requests[0]!.key).toBe(CLIENT_KEY)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ principal: 'user-alice', credentialKind: 'byok' })
  })

  test('x-aibridge-token with no provider credential is served by the pool', async () => {
    const b = await bridge()
    const res = await post(b.url, '/openai/v1/chat/completions', {}, { 'x-aibridge-token': ALICE })
    expect(res.json<{ key: string }>().key).toBe(K1)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ principal: 'user-alice', credentialKind: 'centralized' })
  })

  test('the byok mode still applies: with byok false the client key is dropped and a pool key injected; a byok function decides', async () => {
    const b = await bridge({ byok: false })
    const res = await post(b.url, '/openai/v1/x', {}, { 'x-aibridge-token': ALICE, authorization: `Bearer ${CLIENT_KEY}` })
    expect(res.json<{ key: string }>().key).toBe(K1)
    const c = await bridge({ byok: (req) => req.headers['x-allow-byok'] === '1' })
    expect((await post(c.url, '/openai/v1/x', {}, { 'x-aibridge-token': ALICE, authorization: `Bearer ${CLIENT_KEY}`, 'x-allow-byok': '1' })).json<{ key: string }>().key).toBe(CLIENT_KEY)
    expect((await post(c.url, '/openai/v1/x', {}, { 'x-aibridge-token': ALICE, authorization: `Bearer ${CLIENT_KEY}` })).json<{ key: string }>().key).toBe(K1)
  })

  test('an unknown x-aibridge-token is refused even with a provider key beside it', async () => {
    const b = await bridge()
    const res = await post(b.url, '/openai/v1/x', {}, { 'x-aibridge-token': UNKNOWN, authorization: `Bearer ${CLIENT_KEY}` })
    expect(res.status).toBe(401)
    expect(h.up.requests).toHaveLength(0)
  })

  test('a BYOK-only provider tells a client with only a token how to send its own key', async () => {
    const b = await bridge({ providers: { openai: { keys: [], baseURL: h.up.url } } })
    const res = await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${ALICE}` })
    expect(res.status).toBe(401)
    expect(res.json<{ error: { message: string } }>().error.message).toContain('with your token in x-aibridge-token')
    expect((await post(b.url, '/openai/v1/x', {}, { 'x-aibridge-token': ALICE, authorization: `Bearer ${CLIENT_KEY}` })).status).toBe(200)
  })
})

describe('authenticate: events, leaving clients, options', () => {
  test('keyMarked and poolExhausted carry the principal', async () => {
    const b = await bridge()
    const marked: KeyMarkedEvent[] = []
    const exhausted: PoolExhaustedEvent[] = []
    b.bridge.observe({ keyMarked: (e) => marked.push(e), poolExhausted: (e) => exhausted.push(e) })
    h.up.handle(rateLimited({ 'retry-after': '9' }))
    expect((await post(b.url, '/openai/v1/x', {}, { 'x-api-key': ALICE })).status).toBe(429)
    await until(() => exhausted.length === 1)
    expect(marked.map((e) => e.principal)).toEqual(['user-alice', 'user-alice'])
    expect(exhausted[0]!.principal).toBe('user-alice')
    expectNoToken([marked, exhausted])
  })

  test('a client that leaves while a slow authenticate runs causes no upstream call', async () => {
    const slow = gate()
    const b = await bridge({
      authenticate: async (token) => {
        await slow.promise
        return TOKENS[token] ?? null
      },
    })
    const { req } = open(b.url, '/openai/v1/x', { method: 'POST', headers: { 'x-api-key': ALICE, 'content-type': 'application/json' } })
    req.write('{}')
    await sleep(50)
    req.destroy()
    await sleep(50)
    slow.open()
    // The record went out when the client left, before the check had answered.
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'client_aborted', attempts: 0 })
    await sleep(50)
    expect(h.up.requests).toHaveLength(0)
  })

  test('without authenticate nothing changes, and x-aibridge-token still never goes upstream', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(echoKey)
    const byok = await post(b.url, '/openai/v1/x', {}, { authorization: `Bearer ${CLIENT_KEY}`, 'x-aibridge-token': ALICE })
    expect(byok.json<{ key: string }>().key).toBe(CLIENT_KEY)
    const pooled = await post(b.url, '/openai/v1/x', {}, { 'x-aibridge-token': ALICE })
    expect(pooled.json<{ key: string }>().key).toBe(K1)
    const records = await b.waitForRecords(2)
    expect(records.map((r) => [r.credentialKind, r.principal])).toEqual([
      ['byok', null],
      ['centralized', null],
    ])
    expectNoToken([b.records, b.logs])
  })

  test('bridge.fetch does not ask authenticate: in-process calls are the host\'s own', async () => {
    const b = await bridge()
    const res = await b.bridge.fetch('openai')('http://x/v1/x', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${ALICE}` } })
    expect(((await res.json()) as { key: string }).key).toBe(K1)
    expect(b.calls).toHaveLength(0)
  })

  test('authenticate must be a function', () => {
    expect(() => createBridge({ providers: { openai: { keys: [K1] } }, authenticate: 'yes' as unknown as Authenticate })).toThrow(AibridgeOptionError)
    expect(() => createBridge({ providers: { openai: { keys: [K1] } }, authenticate: { [ALICE]: 'x' } as unknown as Authenticate })).toThrow(/^aibridge: authenticate must be a function \(token, req\) => principal \| null, got /)
  })
})
