import { describe, expect, test } from 'vitest'
import { open } from '../../../test/support/http.js'
import { expectAbortedBy, hang, openaiStreamEvents } from '../../../test/support/upstream.js'
import { sleep, until } from '../../../test/support/wait.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('ab1')
const K2 = testKey('ab2')

/** A JSON POST whose body the test writes and whose connection it may destroy at any point. */
const start = (base: string, path: string, headers: Record<string, string | number> = {}) =>
  open(base, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } })

describe('a client that disconnects aborts the upstream request within 1 s', () => {
  test('while waiting for the upstream headers; no further key is tried', async () => {
    const store = recordingStore()
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, store })
    h.up.handle(hang)
    const { req } = start(b.url, '/openai/v1/chat/completions')
    req.end('{"model":"m"}')
    const [seen] = await h.up.waitFor(1)
    await expectAbortedBy(seen!, () => req.destroy())
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'client_aborted', status: null, attempts: 1, keysTried: [expect.any(String)] })
    await sleep(50)
    expect(h.up.requests).toHaveLength(1)
    expect(store.marks).toHaveLength(0)
  })

  test('mid-stream', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    const events = openaiStreamEvents('one two three')
    h.up.handle((_s, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(events[0])
      // held open
    })
    const { req, response } = start(b.url, '/openai/v1/chat/completions')
    req.end('{"stream":true}')
    const res = await response
    await new Promise((r) => res.once('data', r))
    const [seen] = h.up.requests
    await expectAbortedBy(seen!, () => req.destroy())
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'client_aborted', attempts: 1 })
    expect(record!.status).toBe(200)
    expect(h.up.requests).toHaveLength(1)
  })

  test('while a failover is under way: the next key is not tried', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } } })
    // The first key is slow to say 429: the client leaves before it does.
    h.up.handle(async (_s, res) => {
      await sleep(300)
      if (!res.destroyed) res.writeHead(429, { 'retry-after': '5', 'content-type': 'application/json' }).end('{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}')
    })
    const { req } = start(b.url, '/anthropic/v1/messages')
    req.end('{}')
    await h.up.waitFor(1)
    req.destroy()
    await b.waitForRecords(1)
    await sleep(400)
    expect(h.up.requests).toHaveLength(1)
    expect(b.records[0]!.outcome).toBe('client_aborted')
  })

  test('while still sending the body: no upstream call at all', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const { req } = start(b.url, '/openai/v1/chat/completions', { 'content-length': 100_000 })
    req.write(Buffer.alloc(10_000, 'a'))
    await sleep(50)
    req.destroy()
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'client_aborted', attempts: 0, status: null })
    await sleep(50)
    expect(h.up.requests).toHaveLength(0)
  })

  test('the bridge keeps serving afterwards', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.queue(hang)
    const { req } = start(b.url, '/openai/v1/x')
    req.end('{}')
    await h.up.waitFor(1)
    req.destroy()
    await until(() => h.up.requests[0]!.aborted)
    const second = start(b.url, '/openai/v1/x')
    second.req.end('{}')
    const res = await second.response
    expect(res.statusCode).toBe(200)
    res.resume()
  })
})
