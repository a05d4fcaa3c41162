/** The answer reaches the client as the provider (or the bridge) gave it: Koa fills in and strips nothing. */
import Koa from 'koa'
import { beforeEach, expect, it } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { rateLimited, sse, verbatim } from '../../../test/support/upstream.js'
import { setup } from './helpers.js'

const PATH = '/ai/anthropic/v1/messages'
const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }

const t = setup()
let origin: string

beforeEach(async () => {
  const app = new Koa()
  // A header set by an earlier middleware, as CORS or request-id middleware would.
  app.use(async (ctx, next) => {
    ctx.set('x-host-header', 'kept')
    await next()
  })
  app.use(t.aibridge({}, { prefix: '/ai' }))
  origin = await t.serveApp(app)
})

it("keeps the provider's headers, Content-Length included, and the host's own", async () => {
  const body = JSON.stringify({ id: 'msg_1', content: [{ type: 'text', text: 'hi' }] })
  t.up.queue(
    verbatim(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'request-id': 'req_abc', 'anthropic-ratelimit-requests-remaining': '41', 'x-custom': 'v' }, body),
  )
  const res = await raw(origin, PATH, post)
  expect(res.status).toBe(200)
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
  expect(res.headers['content-length']).toBe(String(Buffer.byteLength(body)))
  expect(res.headers['transfer-encoding']).toBeUndefined()
  expect(res.headers['request-id']).toBe('req_abc')
  expect(res.headers['anthropic-ratelimit-requests-remaining']).toBe('41')
  expect(res.headers['x-custom']).toBe('v')
  expect(res.headers['x-host-header']).toBe('kept')
  expect(res.body.toString('utf8')).toBe(body)
})

it('adds no Content-Type when the provider sent none', async () => {
  t.up.queue(verbatim(200, { 'x-custom': 'bare' }, 'plain bytes'))
  const res = await raw(origin, PATH, post)
  expect(res.status).toBe(200)
  expect(res.headers['x-custom']).toBe('bare')
  expect(res.headers['content-type']).toBeUndefined()
  expect(res.body.toString('utf8')).toBe('plain bytes')
})

it('passes a 502 from the provider through with its body and headers', async () => {
  const body = JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'bad gateway upstream' } })
  t.up.queue(verbatim(502, { 'content-type': 'application/json', 'x-should-retry': 'true' }, body))
  const res = await raw(origin, PATH, post)
  expect(res.status).toBe(502)
  expect(res.headers['x-should-retry']).toBe('true')
  expect(res.headers['content-type']).toBe('application/json')
  expect(res.body.toString('utf8')).toBe(body)
  expect(t.up.requests).toHaveLength(1)
})

it("answers the bridge's own 429, with its Retry-After and provider-shaped body, when every key is cooling", async () => {
  t.up.queue(rateLimited({ 'retry-after': '7' }, 'anthropic'), rateLimited({ 'retry-after': '3' }, 'anthropic'))
  const res = await raw(origin, PATH, post)
  expect(res.status).toBe(429)
  expect(res.headers['retry-after']).toBe('3')
  expect(res.headers['content-type']).toBe('application/json')
  expect(Number(res.headers['content-length'])).toBe(res.body.length)
  const body = JSON.parse(res.body.toString('utf8')) as { type: string; error: { type: string; message: string } }
  expect(body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } })
  expect(body.error.message).toContain('all 2 configured keys are rate-limited')
})

it('passes a 204 through with no body and no framing Koa made up', async () => {
  t.up.queue(verbatim(204, { 'request-id': 'req_204' }))
  const res = await raw(origin, PATH, { method: 'DELETE' })
  expect(res.status).toBe(204)
  expect(res.headers['request-id']).toBe('req_204')
  expect(res.headers['content-type']).toBeUndefined()
  expect(res.body.length).toBe(0)
})

it("answers HEAD with the provider's headers and no body", async () => {
  t.up.queue(verbatim(200, { 'content-type': 'application/json', 'content-length': 1234, 'request-id': 'req_head' }))
  const res = await raw(origin, PATH, { method: 'HEAD' })
  expect(res.status).toBe(200)
  expect(res.headers['content-length']).toBe('1234')
  expect(res.headers['request-id']).toBe('req_head')
  expect(res.body.length).toBe(0)
  expect(t.up.requests[0]!.method).toBe('HEAD')
})

it("replaces a body a host middleware set before it with the provider's answer, buffered or streamed", async () => {
  const app = new Koa()
  // A host that sets a default body (a placeholder, an error page) before calling on.
  app.use(async (ctx, next) => {
    ctx.type = 'text/html'
    ctx.body = '<p>placeholder</p>'
    await next()
  })
  app.use(t.aibridge({}, { prefix: '/ai' }))
  const at = await t.serveApp(app)

  const body = JSON.stringify({ id: 'msg_2', content: [{ type: 'text', text: 'replaced' }] })
  t.up.queue(verbatim(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'request-id': 'req_b' }, body))
  const res = await raw(at, PATH, post)
  expect(res.status).toBe(200)
  expect(res.headers['content-type']).toBe('application/json')
  expect(res.headers['content-length']).toBe(String(Buffer.byteLength(body)))
  expect(res.headers['request-id']).toBe('req_b')
  expect(res.body.toString('utf8')).toBe(body)

  const events = ['event: message_start\ndata: {"type":"message_start"}\n\n', 'event: message_stop\ndata: {"type":"message_stop"}\n\n']
  // The rest held back a moment: the answer is a live stream when it reaches Koa, not a whole buffer.
  t.up.queue(sse(events, { hold: new Promise((resolve) => setTimeout(resolve, 50)) }))
  const stream = await raw(at, PATH, post)
  expect(stream.status).toBe(200)
  expect(stream.headers['content-type']).toMatch(/^text\/event-stream/)
  expect(stream.headers['content-length']).toBeUndefined()
  expect(stream.body.toString('utf8')).toBe(events.join(''))

  // A large answer with a Content-Length streams too: Koa's setter, replacing a body with a stream,
  // drops Content-Length; the provider's is put back.
  const large = JSON.stringify({ id: 'msg_3', content: [{ type: 'text', text: 'z'.repeat(4 * 1024 * 1024) }] })
  t.up.queue(verbatim(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(large) }, large))
  const big = await raw(at, PATH, post)
  expect(big.headers['content-length']).toBe(String(Buffer.byteLength(large)))
  expect(big.headers['transfer-encoding']).toBeUndefined()
  expect(big.body.length).toBe(Buffer.byteLength(large))
})
