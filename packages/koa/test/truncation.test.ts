/** A provider that dies mid-body never looks like a clean end to the client. */
import { aibridge, type Bridge, type InterceptionRecord } from '@aibridge/koa'
import Koa from 'koa'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { anthropicAt, rawRequest, serve, type Served } from './helpers.js'
import { dieAfter, startUpstream, type Upstream } from './upstream.js'

let upstream: Upstream
let served: Served
let bridge: Bridge
let url: string
const records: InterceptionRecord[] = []

beforeEach(async () => {
  records.length = 0
  upstream = await startUpstream()
  const app = new Koa()
  const mw = aibridge({ ...anthropicAt(upstream.baseURL), onInterception: (r) => records.push(r) }, { prefix: '/ai' })
  bridge = mw.bridge
  app.use(mw)
  served = await serve(app)
  url = `${served.origin}/ai/anthropic/v1/messages`
})
afterEach(async () => {
  await served.close()
  await bridge.close()
  await upstream.close()
})

const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}' }

it('SSE: the events sent so far, then an error event, then the end', async () => {
  upstream.script(dieAfter({ 'content-type': 'text/event-stream' }, 'event: message_start\ndata: {"type":"message_start"}\n\nevent: content_block_delta\ndata: {"type":"content_bl'))
  const res = await rawRequest(url, post)
  expect(res.status).toBe(200)
  expect(res.ended).toBe('end')
  const text = res.body.toString('utf8')
  expect(text.startsWith('event: message_start\ndata: {"type":"message_start"}\n\n')).toBe(true)
  // The partial event is closed off so the error event stands on its own, as the SDKs parse it.
  expect(text).toMatch(/content_bl\n\nevent: error\ndata: \{.*"type":"error".*\}\n\n$/s)
  expect(text).not.toContain('message_stop')
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]!.outcome).toBe('truncated')
})

it('non-SSE: the connection is reset, so the client sees an error and not a short body that ends cleanly', async () => {
  upstream.script(dieAfter({ 'content-type': 'application/json', 'content-length': 1000 }, '{"id":"msg_1","content":[{"type":"text","text":"half'))
  const res = await rawRequest(url, post)
  expect(res.status).toBe(200)
  expect(res.ended).toBeInstanceOf(Error)
  expect(res.body.toString('utf8')).toContain('"text":"half')
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]!.outcome).toBe('truncated')
  // Koa reports a streamed body that failed to the app's 'error' listeners, marked as past the headers.
  await expect.poll(() => served.errors.length).toBeGreaterThan(0)
  for (const err of served.errors) expect(err).toMatchObject({ headerSent: true })
})

it('non-SSE without a Content-Length (chunked): still a reset, never a clean end, for fetch too', async () => {
  const half = dieAfter({ 'content-type': 'application/json' }, '{"id":"msg_1","content":[{"type":"text","text":"half')
  upstream.script(half, half)
  const res = await rawRequest(url, post)
  expect(res.status).toBe(200)
  expect(res.headers['transfer-encoding']).toBe('chunked')
  expect(res.ended).toBeInstanceOf(Error)
  const viaFetch = await fetch(url, post)
  expect(viaFetch.status).toBe(200)
  await expect(viaFetch.arrayBuffer()).rejects.toThrow()
  await expect.poll(() => records.length).toBe(2)
  expect(records.map((r) => r.outcome)).toEqual(['truncated', 'truncated'])
})
