/** A host body parser that ran before aibridge: the body it read still reaches the provider, intact and replayable. */
import { bodyParser } from '@koa/bodyparser'
import { aibridge, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import koaBodyParser from 'koa-bodyparser'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { anthropicAt, K1, K2, serve, type Served } from './helpers.js'
import { rateLimited, startUpstream, type Upstream } from './upstream.js'

// Whitespace, key order and non-ASCII that a JSON round trip would not keep byte for byte.
const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'

describe.each([
  { name: '@koa/bodyparser', parser: () => bodyParser() },
  { name: 'koa-bodyparser', parser: () => koaBodyParser() },
])('$name first', ({ parser }) => {
  let upstream: Upstream
  let served: Served
  let bridge: Bridge
  let url: string
  const seenByHost: { parsed: unknown }[] = []

  beforeEach(async () => {
    seenByHost.length = 0
    upstream = await startUpstream()
    const app = new Koa()
    app.use(parser())
    app.use(async (ctx, next) => {
      seenByHost.push({ parsed: (ctx.request as { body?: unknown }).body })
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

  it('sends the exact bytes the parser read (its rawBody), to every key on failover, with a matching length', async () => {
    upstream.script(rateLimited(30))
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    // The parser really consumed the stream before aibridge ran.
    expect(seenByHost[0]!.parsed).toEqual(JSON.parse(SENT))
    expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
    for (const r of upstream.requests) {
      expect(r.body.equals(Buffer.from(SENT))).toBe(true)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(SENT))
      expect(r.headers['content-type']).toBe('application/json')
    }
  })

  it('sends the decoded body without content-encoding when the parser inflated a gzip request', async () => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(SENT) })
    expect(res.status).toBe(200)
    const [up] = upstream.requests
    expect(up!.headers['content-encoding']).toBeUndefined()
    expect(up!.body.toString('utf8')).toBe(SENT)
    expect(Number(up!.headers['content-length'])).toBe(Buffer.byteLength(SENT))
  })

  it('reads the untouched stream byte for byte when the parser skipped the content type', async () => {
    const binary = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0xc3, 0x28])
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: binary })
    expect(res.status).toBe(200)
    expect(upstream.requests[0]!.body.equals(binary)).toBe(true)
  })
})

describe('a parser that keeps only the parsed object', () => {
  it('sends ctx.request.body re-serialized, with a matching length, to every key', async () => {
    const upstream = await startUpstream()
    const app = new Koa()
    // Like koa-body without includeUnparsed: the stream is read, only the parsed value is kept.
    app.use(async (ctx, next) => {
      const chunks: Buffer[] = []
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
      ;(ctx.request as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      await next()
    })
    const mw = aibridge(anthropicAt(upstream.baseURL))
    app.use(mw)
    const served = await serve(app)
    try {
      upstream.script(rateLimited(30))
      const res = await fetch(`${served.origin}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
      expect(res.status).toBe(200)
      const reserialized = JSON.stringify(JSON.parse(SENT))
      expect(upstream.requests).toHaveLength(2)
      for (const r of upstream.requests) {
        expect(r.body.toString('utf8')).toBe(reserialized)
        expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(reserialized))
      }
    } finally {
      await served.close()
      await mw.bridge.close()
      await upstream.close()
    }
  })
})
