import { expect, test } from 'vitest'
import { open, post, raw } from '../../../test/support/http.js'
import { pipelined, postBytes } from '../../../test/support/pipeline.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { gate, sleep, until, within } from '../../../test/support/wait.js'
import { createBridge, MemoryKeyStore, type InterceptionRecord } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('lc1')
const K2 = testKey('lc2')

test('close() releases upstream connections and the store, once', async () => {
  let storeClosed = 0
  const store = new MemoryKeyStore()
  const bridge = createBridge({
    providers: { openai: { keys: [K1], baseURL: h.up.url } },
    store: Object.assign(store, { close: () => void storeClosed++ }),
  })
  await bridge.close()
  await bridge.close()
  expect(storeClosed).toBe(1)
})

test('close() waits for a request in flight to finish', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
  h.up.handle(async (_s, res) => {
    await new Promise((r) => setTimeout(r, 100))
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}')
  })
  const pending = post(b.url, '/openai/v1/x', {})
  await h.up.waitFor(1)
  await b.bridge.close()
  const r = await pending
  expect(r.status).toBe(200)
  expect(r.json()).toEqual({ late: true })
})

test('close() during a request that then fails over: the next key still serves it, then the pools close', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  const release = gate()
  h.up.handle(
    byKey({
      [K1]: async (seen, res, req) => {
        await release.promise
        await rateLimited({ 'retry-after': '30' })(seen, res, req)
      },
      '*': json(200, { served: 'K2' }),
    }),
  )
  const pending = post(b.url, '/openai/v1/chat/completions', {})
  await h.up.waitFor(1)
  let closed = false
  const closing = b.bridge.close().then(() => (closed = true))
  await sleep(20)
  expect(closed).toBe(false)
  release.open()
  const r = await pending
  expect(r.status).toBe(200)
  expect(r.json()).toEqual({ served: 'K2' })
  // A second close() resolves only once the first has finished too.
  await b.bridge.close()
  expect(closed).toBe(true)
  await closing
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
  const [record] = await b.waitForRecords(1)
  expect(record).toMatchObject({ outcome: 'ok', attempts: 2 })
})

test('a restart (a new bridge with the default store) starts with every key valid', async () => {
  const first = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  h.up.queue(rateLimited({ 'retry-after': '600' }))
  await post(first.url, '/openai/v1/x', {})
  expect(first.bridge.keyStates().openai![0]!.state).toBe('temporary')
  const second = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  expect(second.bridge.keyStates().openai!.map((k) => k.state)).toEqual(['valid', 'valid'])
  await post(second.url, '/openai/v1/x', {})
  expect(h.up.requests.at(-1)!.key).toBe(K1)
})

test('two bridges sharing a store share key state', async () => {
  const store = new MemoryKeyStore()
  const a = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, store })
  const c = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, store })
  h.up.queue(rateLimited({ 'retry-after': '600' }))
  await post(a.url, '/openai/v1/x', {})
  await post(c.url, '/openai/v1/x', {})
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K2])
})

test('ready() waits for the store to load its shared state; without a store ready() it resolves at once', async () => {
  const loaded = gate()
  let loads = 0
  const store = Object.assign(new MemoryKeyStore(), {
    ready: async () => {
      loads++
      await loaded.promise
    },
  })
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, store })
  let done = false
  const ready = b.bridge.ready().then(() => (done = true))
  await sleep(20)
  expect(done).toBe(false)
  loaded.open()
  await within(ready, 1000, 'bridge.ready()')
  expect(loads).toBe(1)
  const plain = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
  await within(plain.bridge.ready(), 1000, 'bridge.ready() with the memory store')
})

test('ready() resolves when the store rejects (logged at error level): the bridge serves from local state', async () => {
  const b = await h.start({
    providers: { openai: { keys: [K1], baseURL: h.up.url } },
    store: Object.assign(new MemoryKeyStore(), { ready: () => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:6379')) }),
  })
  await expect(b.bridge.ready()).resolves.toBeUndefined()
  const line = b.logs.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string }).find((l) => l.msg === 'aibridge: key store failed to get ready; serving from local state')
  expect(line).toMatchObject({ level: 50, err: 'Error: ECONNREFUSED 127.0.0.1:6379' })
  expect((await post(b.url, '/openai/v1/x', {})).status).toBe(200)
})

test('close() resolves when the store fails to close, and logs that at error level', async () => {
  const b = await h.start({
    providers: { openai: { keys: [K1], baseURL: h.up.url } },
    store: Object.assign(new MemoryKeyStore(), {
      close: () => Promise.reject(new Error('connection already closed')),
    }),
  })
  await expect(b.bridge.close()).resolves.toBeUndefined()
  const line = b.logs.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string }).find((l) => l.msg === 'aibridge: key store failed to close')
  expect(line).toMatchObject({ level: 50, err: 'Error: connection already closed' })
})

test('a request arriving after close() gets 503 in the provider shape, with no upstream call', async () => {
  const b = await h.start({
    providers: { openai: { keys: [K1], baseURL: h.up.url }, anthropic: { keys: [K2], baseURL: h.up.url } },
  })
  await b.bridge.close()
  const o = await post(b.url, '/openai/v1/chat/completions', {})
  expect(o.status).toBe(503)
  expect(o.json()).toEqual({ error: { message: 'aibridge: the gateway is shutting down', type: 'server_error', param: null, code: 'service_unavailable' } })
  const a = await post(b.url, '/anthropic/v1/messages', {})
  expect(a.status).toBe(503)
  expect(a.json()).toEqual({ type: 'error', error: { type: 'api_error', message: 'aibridge: the gateway is shutting down' } })
  expect(h.up.requests).toHaveLength(0)
  const records = await b.waitForRecords(2)
  expect(records.map((r) => [r.outcome, r.status, r.attempts])).toEqual([
    ['rejected', 503, 0],
    ['rejected', 503, 0],
  ])
})

test('a logger that throws costs its log lines only: failover, exhaustion, records and close() all still work', async () => {
  const broken = () => {
    throw new Error('log transport down')
  }
  const b = await h.start({
    providers: { openai: { keys: [K1, K2], baseURL: h.up.url } },
    logger: { debug: broken, info: broken, warn: broken, error: broken },
  })
  h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }), '*': json(200, { served: 'K2' }) }))
  const r = await post(b.url, '/openai/v1/x', {})
  expect(r.json()).toEqual({ served: 'K2' })
  h.up.handle(rateLimited({ 'retry-after': '30' }))
  expect((await post(b.url, '/openai/v1/x', {})).status).toBe(429)
  const records = await b.waitForRecords(2)
  expect(records.map((x) => x.outcome)).toEqual(['ok', 'exhausted'])
  await b.bridge.close()
})

test('a client that left while a slow host middleware ran: one client_aborted record, no upstream call, close() resolves', async () => {
  const handled: Promise<void>[] = []
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, (bridge) => (req, res) => {
    // Like an auth lookup that takes a while before the bridge is reached.
    handled.push(new Promise((resolve) => setTimeout(resolve, 150)).then(() => bridge.handle(req, res)))
  })
  for (const method of ['GET', 'POST']) {
    const { req } = open(b.url, '/openai/v1/models', { method, headers: method === 'POST' ? { 'content-length': '2' } : {} })
    req.on('error', () => {})
    req.end(method === 'POST' ? '{}' : undefined)
    await sleep(30)
    req.destroy()
  }
  await Promise.all(handled)
  const records = await b.waitForRecords(2)
  // In either order: on a loaded machine the two middleware timers may fire together.
  expect(records.map((r) => [r.method, r.outcome, r.status, r.attempts]).sort()).toEqual([
    ['GET', 'client_aborted', null, 0],
    ['POST', 'client_aborted', null, 0],
  ])
  expect(h.up.requests).toHaveLength(0)
  await within(b.bridge.close(), 2000, 'close()')
})

test('a body a host middleware read and did not hand over: a provider-shaped 500 saying so, not an empty body upstream', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, (bridge) => (req, res) => {
    // Like a signature check that keeps the bytes under its own name.
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => void bridge.handle(req, res))
  })
  const r = await post(b.url, '/openai/v1/chat/completions', { model: 'gpt' })
  expect(r.status).toBe(500)
  expect(r.json().error.message).toBe(
    "aibridge: a host middleware read this request's body before aibridge and did not hand it over, so it cannot be forwarded: mount aibridge before that middleware",
  )
  expect(h.up.requests).toHaveLength(0)
  // A bodiless request read the same way is fine.
  expect((await raw(b.url, '/openai/v1/models')).status).toBe(200)
})

test('the record handed to onInterception is not changed afterwards', async () => {
  const seen: InterceptionRecord[] = []
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, onInterception: (r) => void seen.push(r) })
  const release = gate()
  h.up.handle(async (_s, res) => {
    await release.promise
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_late' }).end('{}')
  })
  const { req } = open(b.url, '/openai/v1/models')
  req.on('error', () => {})
  req.end()
  await h.up.waitFor(1)
  req.destroy()
  await until(() => seen.length === 1)
  const before = JSON.stringify(seen[0])
  release.open()
  await sleep(100)
  expect(JSON.stringify(seen[0])).toBe(before)
  expect(seen[0]).toMatchObject({ outcome: 'client_aborted', status: null, upstreamRequestId: null })
})

test('issue 15: a pipelined request reaching the bridge after its client hung up is recorded, never sent upstream, and close() resolves', async () => {
  // A slow host middleware: the handler hands the second request over only once the connection is gone.
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, (bridge) => (req, res) => {
    if (req.url!.endsWith('/second')) req.socket.once('close', () => setTimeout(() => void bridge.handle(req, res), 20))
    else void bridge.handle(req, res)
  })
  h.up.handle(() => {})
  const client = await pipelined(b.url, postBytes('/openai/v1/first') + postBytes('/openai/v1/second'))
  await h.up.waitFor(1)
  client.hangUp()
  const records = await b.waitForRecords(2)
  await within(b.bridge.close(), 5000, 'bridge.close()')
  expect(records.map((r) => [r.path, r.outcome, r.attempts]).sort()).toEqual([
    ['/v1/first', 'client_aborted', 1],
    ['/v1/second', 'client_aborted', 0],
  ])
  expect(h.up.requests.map((s) => s.url)).toEqual(['/v1/first'])
})
