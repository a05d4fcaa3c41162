// Keys at endpoints of their own (issue 14, part 2): `{ key, baseURL?, headers? }` in a provider's keys.
import { Agent, type Dispatcher } from 'undici'
import { describe, expect, test } from 'vitest'
import { post, raw } from '../../../test/support/http.js'
import { byKey, json, rateLimited, startUpstream, type Script, type Upstream } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('ep1')
const K2 = testKey('ep2')
const K3 = testKey('ep3')
const CLIENT = 'client-own-key-DO-NOT-LEAK-ep-0000'
const KEYS = [K1, K2, K3, CLIENT]
const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'replay me: ünïcødé ✓' }] }

/** A second upstream (another resource, another region), closed after the test. */
async function secondUpstream(): Promise<Upstream> {
  return h.host(await startUpstream())
}

const served: Script = (seen, res, req) => json(200, { served: seen.key === K1 ? 'K1' : seen.key === K2 ? 'K2' : seen.key === K3 ? 'K3' : 'other' })(seen, res, req)

function expectNoKey(text: string): void {
  for (const key of KEYS) expect(text).not.toContain(key)
}

describe('a key at an endpoint of its own', () => {
  test("failover replays the request at the next key's origin and base path, body and query as sent, with that key's headers", async () => {
    const east = await secondUpstream()
    const b = await h.start({
      providers: {
        openai: { baseURL: `${h.up.url}/west`, keys: [K1, { key: K2, baseURL: `${east.url}/east/`, headers: { 'X-Tenant': 'east-tenant' } }] },
      },
    })
    h.up.handle(rateLimited({ 'retry-after': '30' }))
    east.handle(served)
    const sent = JSON.stringify(chat)
    const r = await post(b.url, '/openai/v1/chat/completions?x=a%20b&y', sent)
    expect(r.json()).toEqual({ served: 'K2' })

    const [west] = h.up.requests
    const [replayed] = east.requests
    expect(west!.url).toBe('/west/v1/chat/completions?x=a%20b&y')
    expect(replayed!.url).toBe('/east/v1/chat/completions?x=a%20b&y')
    expect(replayed!.body.equals(Buffer.from(sent))).toBe(true)
    expect(west!.body.equals(Buffer.from(sent))).toBe(true)
    // Host names the key's own origin; the key goes where the dialect puts it.
    expect(replayed!.headers.host).toBe(new URL(east.url).host)
    expect(replayed!.headers.authorization).toBe(`Bearer ${K2}`)
    expect(replayed!.headers['x-tenant']).toBe('east-tenant')
    expect(west!.headers['x-tenant']).toBeUndefined()

    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ keysTried: [b.bridge.keyStates().openai![0]!.hint, b.bridge.keyStates().openai![1]!.hint], attempts: 2, status: 200, outcome: 'ok' })
    // keyStates names the origin of a key with its own endpoint, and only that.
    const states = b.bridge.keyStates().openai!
    expect(states[0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
    expect(states[0]).not.toHaveProperty('origin')
    expect(states[1]).toEqual({ id: expect.stringMatching(/^k_/), hint: 'sk-e...-ep2', state: 'valid', origin: east.url })
    expectNoKey(JSON.stringify(b.bridge.keyStates()) + JSON.stringify(b.records) + b.logs.join('\n'))
    // The failover log line says where the failed key lives only when it has an endpoint of its own.
    const line = JSON.parse(b.logs.find((l) => l.includes('failing over'))!) as Record<string, unknown>
    expect(line).not.toHaveProperty('origin')
  })

  test("a key's headers never reach the next key's attempt; the client's header of that name comes back for it", async () => {
    const b = await h.start({
      providers: {
        openai: {
          baseURL: h.up.url,
          keys: [{ key: K1, headers: { 'x-tenant': 'one', 'OpenAI-Organization': 'org-one' } }, K2, { key: K3, headers: { 'x-tenant': 'three' } }],
        },
      },
    })
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }), [K2]: rateLimited({ 'retry-after': '30' }), '*': served }))
    const r = await post(b.url, '/openai/v1/chat/completions', chat, { 'x-tenant': 'client' })
    expect(r.json()).toEqual({ served: 'K3' })
    const [one, two, three] = h.up.requests
    expect([one!.headers['x-tenant'], one!.headers['openai-organization']]).toEqual(['one', 'org-one'])
    expect([two!.headers['x-tenant'], two!.headers['openai-organization']]).toEqual(['client', undefined])
    expect([three!.headers['x-tenant'], three!.headers['openai-organization']]).toEqual(['three', undefined])
    expect(two!.headers.authorization).toBe(`Bearer ${K2}`)
  })

  test('each origin has its own keep-alive connection, reused across requests and failovers', async () => {
    const east = await secondUpstream()
    const b = await h.start({
      providers: { openai: { keyOrder: 'round-robin', keys: [{ key: K1, baseURL: h.up.url }, { key: K2, baseURL: east.url }] } },
    })
    const ports = new Map<Upstream, Set<number>>([
      [h.up, new Set()],
      [east, new Set()],
    ])
    for (const up of [h.up, east]) {
      up.handle((seen, res, req) => {
        ports.get(up)!.add(req.socket.remotePort!)
        return served(seen, res, req)
      })
    }
    for (let i = 0; i < 6; i++) expect((await post(b.url, '/openai/v1/chat/completions', chat)).status).toBe(200)
    expect([h.up.requests.length, east.requests.length]).toEqual([3, 3])
    expect([...ports.values()].map((s) => s.size)).toEqual([1, 1])
  })

  test('a provider dispatcher carries every key, each to its own origin', async () => {
    const east = await secondUpstream()
    const origins: string[] = []
    class Recording extends Agent {
      override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        origins.push(String(options.origin))
        return super.dispatch(options, handler)
      }
    }
    const dispatcher = new Recording()
    h.own(dispatcher)
    const b = await h.start({ providers: { openai: { baseURL: h.up.url, dispatcher, keys: [K1, { key: K2, baseURL: east.url }] } } })
    h.up.handle(rateLimited({ 'retry-after': '30' }))
    east.handle(served)
    expect((await post(b.url, '/openai/v1/chat/completions', chat)).json()).toEqual({ served: 'K2' })
    expect(origins).toEqual([h.up.url, east.url])
  })

  test('gemini: a client key= in the query is stripped from the replay at the next endpoint too', async () => {
    const east = await secondUpstream()
    const b = await h.start({ byok: false, providers: { gemini: { baseURL: h.up.url, keys: [K1, { key: K2, baseURL: `${east.url}/g` }] } } })
    h.up.handle(json(429, { error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }, { 'retry-after': '30' }))
    east.handle(served)
    const r = await post(b.url, `/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${CLIENT}&x=1`, { contents: [] })
    expect(r.json()).toEqual({ served: 'K2' })
    expect(h.up.requests[0]!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&x=1')
    expect(east.requests[0]!.url).toBe('/g/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&x=1')
    expect(east.requests[0]!.headers['x-goog-api-key']).toBe(K2)
  })
})

describe('an azure pool that spans resources', () => {
  const DEPLOYMENT = '/azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21'
  const throttled = json(429, { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation ... Please retry after 55 seconds.' } }, { 'retry-after-ms': '55000', 'retry-after': '55' })

  test('needs no provider baseURL; fails over from one resource to the other; the exhaustion answer names no key', async () => {
    const westeurope = await secondUpstream()
    const b = await h.start({
      providers: { azure: { keys: [{ key: K1, baseURL: `${h.up.url}/eastus` }, { key: K2, baseURL: `${westeurope.url}/westeurope` }] } },
    })
    h.up.handle(throttled)
    westeurope.handle(served)
    expect((await post(b.url, DEPLOYMENT, chat)).json()).toEqual({ served: 'K2' })
    expect(h.up.requests[0]!.url).toBe('/eastus/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21')
    expect(westeurope.requests[0]!.url).toBe('/westeurope/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21')
    expect(westeurope.requests[0]!.headers['api-key']).toBe(K2)
    expect(b.bridge.keyStates().azure!.map((k) => [k.origin, k.state])).toEqual([
      [h.up.url, 'temporary'],
      [westeurope.url, 'valid'],
    ])
    const line = JSON.parse(b.logs.find((l) => l.includes('failing over'))!) as Record<string, unknown>
    expect(line.origin).toBe(h.up.url)

    westeurope.handle(throttled)
    const out = await post(b.url, DEPLOYMENT, chat)
    expect(out.status).toBe(429)
    expect(out.json().error.message).toMatch(/all 2 configured keys are rate-limited/)
    expectNoKey(out.text + JSON.stringify(out.headers) + JSON.stringify(b.bridge.keyStates()) + JSON.stringify(b.records) + b.logs.join('\n'))
  })

  test('a request with its own credential has nowhere to go there: a 400 in the OpenAI shape, and no upstream call', async () => {
    const b = await h.start({ providers: { azure: { keys: [{ key: K1, baseURL: h.up.url }] } } })
    const r = await raw(b.url, DEPLOYMENT, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': CLIENT }, body: JSON.stringify(chat) })
    expect(r.status).toBe(400)
    expect(r.json().error.message).toMatch(/has no baseURL of its own/)
    expect(h.up.requests).toHaveLength(0)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'rejected', status: 400, credentialKind: 'byok' })
    expectNoKey(r.text + JSON.stringify(b.records) + b.logs.join('\n'))
  })
})
