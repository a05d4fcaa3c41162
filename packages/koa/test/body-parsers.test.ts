/** A host body parser that ran before aibridge: the body it read still reaches the provider, intact and replayable. */
import { bodyParser } from '@koa/bodyparser'
import Koa from 'koa'
import koaBodyParser from 'koa-bodyparser'
import { gzipSync } from 'node:zlib'
import { beforeEach, describe, expect, it } from 'vitest'
import { rateLimited } from '../../../test/support/upstream.js'
import { K1, K2, setup } from './helpers.js'

// Whitespace, key order and non-ASCII that a JSON round trip would not keep byte for byte.
const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'

describe.each([
  { name: '@koa/bodyparser', parser: () => bodyParser() },
  { name: 'koa-bodyparser', parser: () => koaBodyParser() },
])('$name first', ({ parser }) => {
  const t = setup()
  let url: string
  const seenByHost: { parsed: unknown }[] = []

  beforeEach(async () => {
    seenByHost.length = 0
    const app = new Koa()
    app.use(parser())
    app.use(async (ctx, next) => {
      seenByHost.push({ parsed: (ctx.request as { body?: unknown }).body })
      await next()
    })
    app.use(t.aibridge({}, { prefix: '/ai' }))
    url = `${await t.serveApp(app)}/ai/anthropic/v1/messages`
  })

  it('sends the exact bytes the parser read (its rawBody), to every key on failover, with a matching length', async () => {
    t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    // The parser really consumed the stream before aibridge ran.
    expect(seenByHost[0]!.parsed).toEqual(JSON.parse(SENT))
    expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
    for (const r of t.up.requests) {
      expect(r.body.equals(Buffer.from(SENT))).toBe(true)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(SENT))
      expect(r.headers['content-type']).toBe('application/json')
    }
  })

  it('sends the decoded body without content-encoding when the parser inflated a gzip request', async () => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(SENT) })
    expect(res.status).toBe(200)
    const [up] = t.up.requests
    expect(up!.headers['content-encoding']).toBeUndefined()
    expect(up!.body.toString('utf8')).toBe(SENT)
    expect(Number(up!.headers['content-length'])).toBe(Buffer.byteLength(SENT))
  })

  it('reads the untouched stream byte for byte when the parser skipped the content type', async () => {
    const binary = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x7f, 0xc3, 0x28])
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: binary })
    expect(res.status).toBe(200)
    expect(t.up.requests[0]!.body.equals(binary)).toBe(true)
  })
})

describe('a parser that keeps only the parsed object', () => {
  const t = setup()

  it('sends ctx.request.body re-serialized, with a matching length, to every key', async () => {
    const app = new Koa()
    // Like koa-body without includeUnparsed: the stream is read, only the parsed value is kept.
    app.use(async (ctx, next) => {
      const chunks: Buffer[] = []
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
      ;(ctx.request as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      await next()
    })
    app.use(t.aibridge())
    const origin = await t.serveApp(app)
    t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
    const res = await fetch(`${origin}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    const reserialized = JSON.stringify(JSON.parse(SENT))
    expect(t.up.requests).toHaveLength(2)
    for (const r of t.up.requests) {
      expect(r.body.toString('utf8')).toBe(reserialized)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(reserialized))
    }
  })

  it('a multipart parser (like koa-body with multipart: true) that consumed an upload: a provider-shaped 500 saying so', async () => {
    const app = new Koa()
    app.use(async (ctx, next) => {
      for await (const _chunk of ctx.req) void _chunk
      ;(ctx.request as { body?: unknown }).body = { purpose: 'assistants' }
      await next()
    })
    app.use(t.aibridge())
    const origin = await t.serveApp(app)
    const form = new FormData()
    form.append('purpose', 'assistants')
    form.append('file', new Blob([Buffer.from([0, 1, 2, 255])]), 'data.bin')
    const res = await fetch(`${origin}/anthropic/v1/files`, { method: 'POST', body: form })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'api_error', message: expect.stringContaining('a host body parser consumed this multipart/form-data request and kept no raw bytes') },
    })
    expect(t.up.requests).toHaveLength(0)
  })
})
