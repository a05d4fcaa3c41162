import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { bulk, byKey, dieAfter, echoKey, expectAbortedBy, hang, json, openaiStreamEvents, providerAnswer, rateLimited, sse, text, type Script } from '../../../test/support/upstream.js'
import { gate, sleep, until, within } from '../../../test/support/wait.js'
import { AibridgeArgumentError, maskKey, type BridgeObserver, type InterceptionRecord, type KeyMarkedEvent, type PoolExhaustedEvent } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('fe1')
const K2 = testKey('fe2')
const CALLER = 'sk-caller-own-credential-000000000000'
const CHAT = 'http://pool.invalid/v1/chat/completions'

async function bridge(options: { basePath?: string; keys?: string[]; bodyLimit?: number } = {}) {
  const b = await h.start({
    providers: {
      openai: { keys: options.keys ?? [K1, K2], baseURL: h.up.url + (options.basePath ?? '') },
      anthropic: { keys: [K1, K2], baseURL: h.up.url },
    },
    ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
  })
  const seen = { marked: [] as KeyMarkedEvent[], exhausted: [] as PoolExhaustedEvent[], ended: [] as InterceptionRecord[] }
  const observer: BridgeObserver = {
    keyMarked: (e) => seen.marked.push(e),
    poolExhausted: (e) => seen.exhausted.push(e),
    requestEnded: (r) => seen.ended.push(r),
  }
  b.bridge.observe(observer)
  return { ...b, seen, fetch: b.bridge.fetch('openai') }
}

const failover = (dialect: 'anthropic' | 'openai'): Script => byKey({ [K1]: rateLimited({ 'retry-after': '30' }, dialect), [K2]: providerAnswer('second key') })

describe('bridge.fetch: the URL', () => {
  test('the path and query after the origin are the provider path, whatever the origin', async () => {
    const { fetch } = await bridge()
    h.up.handle(json(200, { ok: true }))
    const res = await fetch('https://api.openai.com/v1/models?limit=2&after=m%201')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true })
    expect(h.up.requests[0]!.url).toBe('/v1/models?limit=2&after=m%201')
  })

  test("the provider's base path goes in front, and a URL already on the provider's own origin and base path is not doubled", async () => {
    const { fetch } = await bridge({ basePath: '/openai' })
    await fetch('http://pool.invalid/v1/models')
    await fetch(new URL(`${h.up.url}/openai/v1/models/m1`))
    await fetch(new Request(`${h.up.url}/v1/x`))
    expect(h.up.requests.map((s) => s.url)).toEqual(['/openai/v1/models', '/openai/v1/models/m1', '/openai/v1/x'])
  })

  test('a path that tries to leave the base path gets a provider-shaped 400 and no upstream call', async () => {
    const { fetch, waitForRecords } = await bridge()
    for (const url of ['http://pool.invalid/v1/models/a%2Fb', 'http://pool.invalid/v1/../admin', 'http://pool.invalid/v1/%2e%2e/admin', 'http://pool.invalid/v1//x', 'http://pool.invalid/v1/a%00b']) {
      const res = await fetch(url)
      expect(res.status, url).toBe(400)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^aibridge: invalid path/)
    }
    expect(h.up.requests).toHaveLength(0)
    const records = await waitForRecords(5)
    expect(records.every((r) => r.outcome === 'rejected')).toBe(true)
  })
})

describe('bridge.fetch: credentials', () => {
  test("every credential the caller sends is dropped and a pool key injected; x-aibridge-token never goes upstream", async () => {
    const { fetch, waitForRecords } = await bridge()
    h.up.handle(echoKey)
    const res = await fetch(CHAT, {
      method: 'POST',
      headers: { authorization: `Bearer ${CALLER}`, 'api-key': CALLER, 'x-api-key': CALLER, 'x-aibridge-token': CALLER, 'content-type': 'application/json' },
      body: '{"model":"m"}',
    })
    expect(((await res.json()) as { key: string }).key).toBe(K1)
    const seen = h.up.requests[0]!
    expect(seen.headers.authorization).toBe(`Bearer ${K1}`)
    expect(JSON.stringify(seen.headers)).not.toContain(CALLER)
    const [record] = await waitForRecords(1)
    expect(record).toMatchObject({ credentialKind: 'centralized', credentialHint: maskKey(K1), path: '/v1/chat/completions', method: 'POST', status: 200, outcome: 'ok', principal: null })
  })

  test("a Gemini caller's key in the query is dropped too, the rest of the query kept", async () => {
    const b = await h.start({ providers: { gemini: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(json(200, {}))
    await b.bridge.fetch('gemini')(`http://x/v1beta/models/m:generateContent?key=${CALLER}&alt=sse`, { method: 'POST', body: '{}', headers: { 'x-goog-api-key': CALLER } })
    expect(h.up.requests[0]!.url).toBe('/v1beta/models/m:generateContent?alt=sse')
    expect(h.up.requests[0]!.headers['x-goog-api-key']).toBe(K1)
  })

  test('the Anthropic dialect gets its key as x-api-key, the caller\'s Authorization dropped', async () => {
    const { bridge: br } = await bridge()
    h.up.handle(json(200, {}))
    await br.fetch('anthropic')('http://x/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${CALLER}` }, body: '{}' })
    expect(h.up.requests[0]!.headers['x-api-key']).toBe(K1)
    expect(h.up.requests[0]!.headers.authorization).toBeUndefined()
  })
})

describe('bridge.fetch: the request body', () => {
  const bodies: Array<[string, () => RequestInit & { duplex?: 'half' }, (b: Buffer, ct: string | undefined) => void]> = [
    ['a string', () => ({ body: '{"a":"é"}' }), (b) => expect(b.toString()).toBe('{"a":"é"}')],
    ['an ArrayBuffer', () => ({ body: new TextEncoder().encode('array buffer').buffer }), (b) => expect(b.toString()).toBe('array buffer')],
    ['a Uint8Array', () => ({ body: new Uint8Array([1, 2, 3, 250]) }), (b) => expect([...b]).toEqual([1, 2, 3, 250])],
    ['URLSearchParams', () => ({ body: new URLSearchParams({ a: '1', b: 'x y' }) }), (b, ct) => (expect(b.toString()).toBe('a=1&b=x+y'), expect(ct).toMatch(/x-www-form-urlencoded/))],
    [
      'FormData',
      () => {
        const form = new FormData()
        form.append('purpose', 'fine-tune')
        form.append('file', new Blob(['{"x":1}\n'], { type: 'application/jsonl' }), 'data.jsonl')
        return { body: form }
      },
      (b, ct) => {
        expect(ct).toMatch(/^multipart\/form-data; boundary=/)
        expect(b.toString()).toContain('fine-tune')
        expect(b.toString()).toContain('{"x":1}')
      },
    ],
    [
      'a ReadableStream',
      () => ({
        duplex: 'half',
        body: new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('streamed '))
            c.enqueue(new TextEncoder().encode('body'))
            c.close()
          },
        }),
      }),
      (b) => expect(b.toString()).toBe('streamed body'),
    ],
  ]

  test.each(bodies)('%s is read once and replayed byte for byte on the next key', async (_name, init, check) => {
    const { fetch } = await bridge()
    h.up.handle(failover('openai'))
    const res = await fetch(CHAT, { method: 'POST', ...init() })
    expect(res.status).toBe(200)
    const [first, second] = h.up.requests
    expect([first!.key, second!.key]).toEqual([K1, K2])
    expect(second!.body.equals(first!.body)).toBe(true)
    expect(second!.headers['content-length']).toBe(String(first!.body.length))
    check(second!.body, second!.headers['content-type'])
  })

  test("a Request's own body and method are used", async () => {
    const { fetch } = await bridge()
    h.up.handle(json(200, {}))
    await fetch(new Request(CHAT, { method: 'PUT', body: 'from the request', headers: { 'x-custom': '1' } }))
    expect(h.up.requests[0]).toMatchObject({ method: 'PUT', url: '/v1/chat/completions' })
    expect(h.up.requests[0]!.body.toString()).toBe('from the request')
    expect(h.up.requests[0]!.headers['x-custom']).toBe('1')
  })

  test('a body over bodyLimit gets a provider-shaped 413 and no upstream call', async () => {
    const { fetch, waitForRecords } = await bridge({ bodyLimit: 1000 })
    const res = await fetch(CHAT, { method: 'POST', body: 'x'.repeat(1001) })
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ error: { code: 'request_too_large' } })
    const stream = new ReadableStream({
      pull(c) {
        c.enqueue(new Uint8Array(600))
      },
    })
    expect((await fetch(CHAT, { method: 'POST', body: stream, duplex: 'half' } as RequestInit)).status).toBe(413)
    expect((await fetch(CHAT, { method: 'POST', body: 'x'.repeat(1000) })).status).toBe(200)
    expect(h.up.requests).toHaveLength(1)
    const records = await waitForRecords(3)
    expect(records.map((r) => r.outcome)).toEqual(['rejected', 'rejected', 'ok'])
  })

  test('a bad request rejects as fetch does: no record, no upstream call', async () => {
    const { fetch, records } = await bridge()
    await expect(fetch('/v1/models')).rejects.toThrow(TypeError)
    await expect(fetch(CHAT, { method: 'GET', body: 'x' })).rejects.toThrow(TypeError)
    expect(h.up.requests).toHaveLength(0)
    expect(records).toHaveLength(0)
  })
})

describe('bridge.fetch: the response', () => {
  test('status, headers (request id, rate-limit headers) and body as the provider sent them; Response.url is the URL asked for', async () => {
    const { fetch } = await bridge()
    h.up.handle(json(201, { id: 'x' }, { 'x-request-id': 'req_1', 'x-ratelimit-remaining-requests': '99', 'set-cookie': 'a=b' }))
    const res = await fetch(CHAT, { method: 'POST', body: '{}' })
    expect(res.status).toBe(201)
    expect(res.headers.get('x-request-id')).toBe('req_1')
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('99')
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(res.url).toBe(CHAT)
    expect(await res.json()).toEqual({ id: 'x' })
  })

  test('a 204 has a null body', async () => {
    const { fetch, waitForRecords } = await bridge()
    h.up.handle((_s, res) => void res.writeHead(204).end())
    const res = await fetch('http://x/v1/files/f', { method: 'DELETE' })
    expect(res.status).toBe(204)
    expect(res.body).toBeNull()
    const [record] = await waitForRecords(1)
    expect(record).toMatchObject({ status: 204, outcome: 'ok' })
  })

  test('an SSE stream arrives event by event, before the provider has finished', async () => {
    const { fetch } = await bridge()
    const hold = gate()
    const events = openaiStreamEvents('one two three')
    h.up.handle(sse(events, { hold: hold.promise }))
    const res = await fetch(CHAT, { method: 'POST', body: '{"stream":true}' })
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(Buffer.from(first.value!).toString()).toBe(events[0])
    hold.open()
    let rest = ''
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      rest += Buffer.from(value).toString()
    }
    expect(rest).toBe(events.slice(1).join(''))
  })

  test('the body has backpressure: a caller that does not read pauses the provider, and still gets every byte', async () => {
    const { fetch, waitForRecords } = await bridge()
    const CHUNK = Buffer.alloc(64 * 1024, 'z')
    const CHUNKS = 512 // 32 MiB: far more than the socket buffers and the stream's queue
    const body = bulk(CHUNK, CHUNKS)
    h.up.handle(body)
    const res = await fetch('http://x/v1/files/f/content')
    // Let the provider push what it can while nobody reads.
    await sleep(300)
    expect(body.sent()).toBeLessThan(CHUNKS / 2)
    let received = 0
    const reader = res.body!.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      received += value.byteLength
    }
    expect(received).toBe(CHUNK.length * CHUNKS)
    const [record] = await waitForRecords(1)
    expect(record!.outcome).toBe('ok')
  })

  test('a non-SSE body cut mid-way errors the stream (no clean end) and records truncated', async () => {
    const { fetch, waitForRecords } = await bridge()
    h.up.handle(dieAfter({ 'content-type': 'application/json', 'content-length': '100' }, '{"partial":'))
    const res = await fetch(CHAT, { method: 'POST', body: '{}' })
    await expect(res.text()).rejects.toThrow(/broke off/)
    const [record] = await waitForRecords(1)
    expect(record!.outcome).toBe('truncated')
  })

  test('an SSE stream cut mid-way ends with the provider-shaped error event', async () => {
    const { fetch, waitForRecords } = await bridge()
    const events = openaiStreamEvents('never finished')
    h.up.handle(dieAfter({ 'content-type': 'text/event-stream' }, events[0]!, events[1]!))
    const res = await fetch(CHAT, { method: 'POST', body: '{"stream":true}' })
    const body = await res.text()
    expect(body.startsWith(events[0]! + events[1]!)).toBe(true)
    // The provider-shaped end of a broken stream (for Chat Completions, a final chunk carrying `error`).
    expect(body.slice(events[0]!.length + events[1]!.length)).toMatch(/^(event: error\n)?data: .*"code":"stream_interrupted"/)
    const [record] = await waitForRecords(1)
    expect(record!.outcome).toBe('truncated')
  })
})

describe('bridge.fetch: aborts and cancels', () => {
  test('a signal already aborted rejects with its reason, and nothing happens', async () => {
    const { fetch, records } = await bridge()
    const reason = new Error('caller gave up')
    await expect(fetch(CHAT, { method: 'POST', body: '{}', signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    await expect(fetch(CHAT, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    await sleep(50)
    expect(h.up.requests).toHaveLength(0)
    expect(records).toHaveLength(0)
  })

  test('aborting while the provider has not answered aborts the upstream request and rejects with the reason', async () => {
    const { fetch, waitForRecords } = await bridge()
    h.up.handle(hang)
    const controller = new AbortController()
    const pending = fetch(CHAT, { method: 'POST', body: '{}', signal: controller.signal })
    pending.catch(() => {})
    const [seen] = await h.up.waitFor(1)
    await expectAbortedBy(seen!, () => controller.abort(new Error('stop')))
    await expect(pending).rejects.toThrow('stop')
    const [record] = await waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'client_aborted', status: null, attempts: 1 })
    expect(h.up.requests).toHaveLength(1)
  })

  test('aborting mid-body errors the body with the reason and aborts the upstream', async () => {
    const { fetch, waitForRecords } = await bridge()
    const events = openaiStreamEvents('a b c')
    h.up.handle(sse(events, { hold: new Promise(() => {}) }))
    const controller = new AbortController()
    const res = await fetch(CHAT, { method: 'POST', body: '{"stream":true}', signal: controller.signal })
    const reader = res.body!.getReader()
    await reader.read()
    await expectAbortedBy(h.up.requests[0]!, () => controller.abort())
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' })
    const [record] = await waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'client_aborted', status: 200 })
  })

  test('cancelling the body aborts the upstream request', async () => {
    const { fetch, waitForRecords } = await bridge()
    h.up.handle(sse(openaiStreamEvents('a b c'), { hold: new Promise(() => {}) }))
    const res = await fetch(CHAT, { method: 'POST', body: '{"stream":true}' })
    const reader = res.body!.getReader()
    await reader.read()
    await expectAbortedBy(h.up.requests[0]!, () => void reader.cancel())
    const [record] = await waitForRecords(1)
    expect(record!.outcome).toBe('client_aborted')
  })

  test('an abort after the body ended changes nothing, and the listener is gone', async () => {
    const { fetch, waitForRecords } = await bridge()
    h.up.handle(json(200, { ok: 1 }))
    const controller = new AbortController()
    const res = await fetch(CHAT, { method: 'POST', body: '{}', signal: controller.signal })
    expect(await res.json()).toEqual({ ok: 1 })
    controller.abort()
    const [record] = await waitForRecords(1)
    expect(record!.outcome).toBe('ok')
  })
})

describe('bridge.fetch: failover, exhaustion, records and events as on the HTTP path', () => {
  test('a failover and an exhaustion give the same records and events as the same requests through the mount', async () => {
    const b = await bridge()
    const through = async (via: 'fetch' | 'http'): Promise<Response | { status: number; headers: Record<string, unknown>; body: string }> => {
      if (via === 'fetch') return b.fetch(CHAT, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' })
      const r = await post(b.url, '/openai/v1/chat/completions', { model: 'm' })
      return { status: r.status, headers: r.headers, body: r.body.toString() }
    }
    const scenario = async (via: 'fetch' | 'http') => {
      b.bridge.resetKey('openai', maskKey(K1))
      b.bridge.resetKey('openai', maskKey(K2))
      h.up.handle(failover('openai'))
      const ok = await through(via)
      expect(ok.status).toBe(200)
      if (ok instanceof Response) await ok.text()
      h.up.handle(rateLimited({ 'retry-after': '7' }, 'openai'))
      return through(via)
    }
    const fromFetch = (await scenario('fetch')) as Response
    expect(fromFetch.status).toBe(429)
    expect(fromFetch.headers.get('retry-after')).toBe('7')
    const fetchBody = await fromFetch.json()
    await until(() => b.seen.ended.length === 2)
    const fromHttp = (await scenario('http')) as { status: number; headers: Record<string, unknown>; body: string }
    expect(fromHttp.status).toBe(429)
    expect(fromHttp.headers['retry-after']).toBe('7')
    expect(JSON.parse(fromHttp.body)).toEqual(fetchBody)
    expect(fetchBody).toEqual({ error: { message: 'aibridge: all 2 configured keys are rate-limited (retry after 7s)', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } })
    await until(() => b.seen.ended.length === 4)

    const shape = (r: InterceptionRecord) => ({ ...r, id: 'id', startedAt: 0, durationMs: 0, firstByteMs: r.firstByteMs === null ? null : 0 })
    const [f1, f2, h1, h2] = b.seen.ended.map(shape)
    expect(f1).toEqual(h1)
    expect(f2).toEqual(h2)
    expect(f1).toMatchObject({ attempts: 2, keysTried: [maskKey(K1), maskKey(K2)], outcome: 'ok', credentialKind: 'centralized' })
    expect(f2).toMatchObject({ outcome: 'exhausted', status: 429 })
    const events = (list: { requestId: string; at: number }[]) => list.map((e) => ({ ...e, requestId: b.seen.ended.findIndex((r) => r.id === e.requestId), at: 0 }))
    const marked = events(b.seen.marked)
    expect(marked.filter((e) => e.requestId === 0).map(({ requestId: _, ...e }) => ({ ...e, until: 0 }))).toEqual(
      marked.filter((e) => e.requestId === 2).map(({ requestId: _, ...e }) => ({ ...e, until: 0 })),
    )
    const exhausted = events(b.seen.exhausted)
    expect(exhausted.map((e) => e.requestId)).toEqual([1, 3])
    expect({ ...exhausted[0], requestId: 0 }).toEqual({ ...exhausted[1], requestId: 0 })
  })

  test('a pool with no usable key answers the provider-shaped 429 with Retry-After without calling upstream', async () => {
    const { fetch, bridge: br } = await bridge()
    h.up.handle(rateLimited({ 'retry-after': '40' }, 'openai'))
    expect((await fetch(CHAT, { method: 'POST', body: '{}' })).status).toBe(429)
    const calls = h.up.requests.length
    const res = await fetch(CHAT, { method: 'POST', body: '{}' })
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(38)
    expect(h.up.requests).toHaveLength(calls)
    expect(br.keyStates().openai!.map((k) => k.state)).toEqual(['temporary', 'temporary'])
  })

  test('a provider with no key pool answers a provider-shaped 401', async () => {
    const { bridge: br } = await h.start({ providers: { openai: { keys: [], baseURL: h.up.url } } })
    const res = await br.fetch('openai')(CHAT, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${CALLER}` } })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_api_key' } })
    expect(h.up.requests).toHaveLength(0)
  })

  test('keys never appear in a response, record, event or log line', async () => {
    const b = await bridge()
    h.up.handle(byKey({ [K1]: json(401, { error: { message: 'bad', type: 'invalid_request_error', code: 'invalid_api_key' } }), [K2]: text(200, 'fine') }))
    const res = await b.fetch(CHAT, { method: 'POST', body: '{}' })
    const out = JSON.stringify([[...res.headers], await res.text()])
    await until(() => b.seen.ended.length === 1)
    for (const key of [K1, K2]) {
      expect(out).not.toContain(key)
      expect(JSON.stringify(b.seen)).not.toContain(key)
      expect(b.logs.join('\n')).not.toContain(key)
    }
  })
})

describe('bridge.fetch: setup and shutdown', () => {
  test('an unknown provider throws an argument error when the function is made, not when it is called', async () => {
    const { bridge: br } = await bridge()
    expect(() => br.fetch('nope')).toThrow(AibridgeArgumentError)
    expect(() => br.fetch('nope')).toThrow(/no provider "nope" \(configured: openai, anthropic\)/)
    // A key passed by mistake is not echoed.
    expect(() => br.fetch(K1)).toThrow(/a \d+-character string \(sk-f\.\.\.-fe1\)/)
    expect(() => br.fetch(undefined as unknown as string)).toThrow(AibridgeArgumentError)
  })

  test('close() waits for a fetch still streaming and refuses new ones with a provider-shaped 503', async () => {
    const { fetch, bridge: br, waitForRecords } = await bridge()
    const hold = gate()
    h.up.handle(sse(openaiStreamEvents('a b'), { hold: hold.promise }))
    const res = await fetch(CHAT, { method: 'POST', body: '{"stream":true}' })
    let closed = false
    const closing = br.close().then(() => (closed = true))
    const refused = await fetch(CHAT, { method: 'POST', body: '{}' })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ error: { code: 'service_unavailable' } })
    await sleep(100)
    expect(closed).toBe(false)
    hold.open()
    expect(await res.text()).toContain('[DONE]')
    await within(closing, 2000, 'close()')
    const records = await waitForRecords(2)
    expect(records.map((r) => r.outcome).sort()).toEqual(['ok', 'rejected'])
  })
})
