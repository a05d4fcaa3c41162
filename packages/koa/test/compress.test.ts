/** With koa-compress app-wide, ordinary answers are compressed and SSE still streams event by event. */
import { aibridge, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import compress from 'koa-compress'
import { gunzipSync } from 'node:zlib'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { anthropicAt, rawRequest, readAll, readUntil, serve, type Served } from './helpers.js'
import { bigJson, startUpstream, type Upstream } from './upstream.js'

const EVENTS = [
  'event: message_start\ndata: {"type":"message_start"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"hi"}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]

let upstream: Upstream
let served: Served
let bridge: Bridge
let url: string

beforeEach(async () => {
  upstream = await startUpstream()
  const app = new Koa()
  // threshold 0 and a filter that takes everything: koa-compress would compress an event stream if let.
  app.use(compress({ threshold: 0, filter: () => true }))
  // A host cache policy applied on the way out replaces the `no-transform` koa-compress would otherwise
  // honour: only `ctx.compress = false` keeps the event stream uncompressed then.
  app.use(async (ctx, next) => {
    await next()
    ctx.set('cache-control', 'no-store')
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

it('compresses an ordinary JSON answer (so the middleware is really in the path)', async () => {
  upstream.script(bigJson(20_000))
  const res = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' }, body: '{}' })
  expect(res.status).toBe(200)
  expect(res.headers['content-encoding']).toBe('gzip')
  expect(res.body.length).toBeLessThan(20_000)
  expect(JSON.parse(gunzipSync(res.body).toString('utf8'))).toEqual({ text: 'a'.repeat(20_000) })
})

it('delivers the first SSE event uncompressed while the provider still holds the stream open', async () => {
  upstream.script(upstream.heldStream(EVENTS))
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip, br' }, body: '{"stream":true}', signal: AbortSignal.timeout(5000) })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
  expect(res.headers.get('content-encoding')).toBeNull()
  expect(res.headers.get('cache-control')).toBe('no-store')
  const reader = res.body!.getReader()
  const first = await readUntil(reader, 'message_start')
  expect(first).not.toContain('content_block_delta')
  expect(upstream.requests[0]!.aborted).toBe(false)
  upstream.release()
  const rest = await readAll(reader)
  expect(first + rest).toBe(EVENTS.join(''))
})
