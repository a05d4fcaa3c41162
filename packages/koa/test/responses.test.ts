/** The answer reaches the client as the provider (or the bridge) gave it: Koa fills in and strips nothing. */
import { aibridge, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { anthropicAt, rawRequest, serve, type Served } from './helpers.js'
import { answer, rateLimited, startUpstream, type Upstream } from './upstream.js'

let upstream: Upstream
let served: Served
let bridge: Bridge
let url: string

beforeEach(async () => {
  upstream = await startUpstream()
  const app = new Koa()
  // A header set by an earlier middleware, as CORS or request-id middleware would.
  app.use(async (ctx, next) => {
    ctx.set('x-host-header', 'kept')
    await next()
  })
  const mw = aibridge(anthropicAt(upstream.baseURL), { prefix: '/ai' })
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

const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }

it("keeps the provider's headers, Content-Length included, and the host's own", async () => {
  const body = JSON.stringify({ id: 'msg_1', content: [{ type: 'text', text: 'hi' }] })
  upstream.script(
    answer(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'request-id': 'req_abc', 'anthropic-ratelimit-requests-remaining': '41', 'x-custom': 'v' }, body),
  )
  const res = await rawRequest(url, post)
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
  upstream.script(answer(200, { 'x-custom': 'bare' }, 'plain bytes'))
  const res = await rawRequest(url, post)
  expect(res.status).toBe(200)
  expect(res.headers['x-custom']).toBe('bare')
  expect(res.headers['content-type']).toBeUndefined()
  expect(res.body.toString('utf8')).toBe('plain bytes')
})

it('passes a 502 from the provider through with its body and headers', async () => {
  const body = JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'bad gateway upstream' } })
  upstream.script(answer(502, { 'content-type': 'application/json', 'x-should-retry': 'true' }, body))
  const res = await rawRequest(url, post)
  expect(res.status).toBe(502)
  expect(res.headers['x-should-retry']).toBe('true')
  expect(res.headers['content-type']).toBe('application/json')
  expect(res.body.toString('utf8')).toBe(body)
  expect(upstream.requests).toHaveLength(1)
})

it("answers the bridge's own 429, with its Retry-After and provider-shaped body, when every key is cooling", async () => {
  upstream.script(rateLimited(7), rateLimited(3))
  const res = await rawRequest(url, post)
  expect(res.status).toBe(429)
  expect(res.headers['retry-after']).toBe('3')
  expect(res.headers['content-type']).toBe('application/json')
  expect(Number(res.headers['content-length'])).toBe(res.body.length)
  const body = JSON.parse(res.body.toString('utf8')) as { type: string; error: { type: string; message: string } }
  expect(body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } })
  expect(body.error.message).toContain('all 2 configured keys are rate-limited')
})

it('passes a 204 through with no body and no framing Koa made up', async () => {
  upstream.script(answer(204, { 'request-id': 'req_204' }))
  const res = await rawRequest(url, { method: 'DELETE' })
  expect(res.status).toBe(204)
  expect(res.headers['request-id']).toBe('req_204')
  expect(res.headers['content-type']).toBeUndefined()
  expect(res.body.length).toBe(0)
})

it("answers HEAD with the provider's headers and no body", async () => {
  upstream.script(answer(200, { 'content-type': 'application/json', 'content-length': 1234, 'request-id': 'req_head' }))
  const res = await rawRequest(url, { method: 'HEAD' })
  expect(res.status).toBe(200)
  expect(res.headers['content-length']).toBe('1234')
  expect(res.headers['request-id']).toBe('req_head')
  expect(res.body.length).toBe(0)
  expect(upstream.requests[0]!.method).toBe('HEAD')
})
