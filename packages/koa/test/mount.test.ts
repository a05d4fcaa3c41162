/** Mounting: under a prefix, at the root and inside koa-mount; failover with body replay; falling through to the app's routes. */
import { aibridge, AibridgeOptionError, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import mount from 'koa-mount'
import { beforeEach, describe, expect, it } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { rateLimited } from '../../../test/support/upstream.js'
import { anthropicAt, K1, K2, setup } from './helpers.js'

// Whitespace, key order and non-ASCII that a JSON round trip would not keep byte for byte.
const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'

const t = setup()

/** The app's own routes, behind aibridge: reached only when it calls next(). */
function hostRoutes(app: Koa, at: string): void {
  app.use(async (ctx) => {
    if (ctx.method === 'GET' && ctx.path === `${at}/_host/ping`) ctx.body = { host: 'koa' }
    else {
      ctx.status = 404
      ctx.body = `app 404 ${ctx.path}`
    }
  })
}

describe.each([
  { how: 'with { prefix: "/ai" }', at: '/ai', use: (app: Koa, mw: Koa.Middleware) => app.use(mw), prefix: '/ai' },
  { how: 'at the root', at: '', use: (app: Koa, mw: Koa.Middleware) => app.use(mw), prefix: undefined },
  { how: "inside koa-mount('/ai')", at: '/ai', use: (app: Koa, mw: Koa.Middleware) => app.use(mount('/ai', mw)), prefix: undefined },
])('$how', ({ at, use, prefix }) => {
  let bridge: Bridge
  let origin: string
  beforeEach(async () => {
    const app = new Koa()
    const mw = t.aibridge({}, { prefix })
    bridge = mw.bridge
    use(app, mw)
    hostRoutes(app, at)
    origin = await t.serveApp(app)
  })

  it('serves a request with the primary key, the mount path stripped and the query kept', async () => {
    const res = await fetch(`${origin}${at}/anthropic/v1/messages?beta=true&x=a%20b`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: SENT,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('request-id')).toBe('req_upstream_1')
    expect(((await res.json()) as { key: string }).key).toBe(K1)
    expect(t.up.requests).toHaveLength(1)
    const [up] = t.up.requests
    expect(up!.url).toBe('/v1/messages?beta=true&x=a%20b')
    expect(up!.headers['anthropic-version']).toBe('2023-06-01')
    expect(up!.body.toString('utf8')).toBe(SENT)
  })

  it('fails over on 429 and replays the identical bytes to the next key', async () => {
    t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
    const res = await fetch(`${origin}${at}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { key: string }).key).toBe(K2)
    expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
    for (const r of t.up.requests) expect(r.body.equals(Buffer.from(SENT))).toBe(true)
    expect(bridge.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
  })

  it('serves an absolute-form request target (RFC 9112 section 3.2.2) by its path', async () => {
    const res = await raw(origin, `http://elsewhere.example${at}/anthropic/v1/messages?beta=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    expect(t.up.requests.map((r) => r.url)).toEqual(['/v1/messages?beta=true'])
  })

  it("calls next() for paths that name no provider, reaching the app's own routes", async () => {
    const ping = await fetch(`${origin}${at}/_host/ping`)
    expect(ping.status).toBe(200)
    expect(await ping.json()).toEqual({ host: 'koa' })
    const unknown = await fetch(`${origin}${at}/mistral/v1/chat`)
    expect(unknown.status).toBe(404)
    expect(await unknown.text()).toBe(`app 404 ${at}/mistral/v1/chat`)
    const bare = await fetch(`${origin}${at}?x=1`)
    expect(bare.status).toBe(404)
    expect(t.up.requests).toHaveLength(0)
  })
})

describe('the prefix', () => {
  it('matches whole segments only: /aiX and paths outside it are left to the app', async () => {
    const app = new Koa()
    app.use(t.aibridge({}, { prefix: '/ai/' }))
    app.use((ctx) => {
      ctx.status = 418
      ctx.body = `app ${ctx.path}`
    })
    const origin = await t.serveApp(app)
    for (const path of ['/aiX/anthropic/v1/messages', '/anthropic/v1/messages', '/AI/anthropic/v1/messages']) {
      const res = await fetch(`${origin}${path}`, { method: 'POST', body: '{}' })
      expect(res.status, path).toBe(418)
      expect(await res.text()).toBe(`app ${path}`)
    }
    expect(t.up.requests).toHaveLength(0)
    // The trailing slash of '/ai/' is not part of the match.
    const res = await fetch(`${origin}/ai/anthropic/v1/messages`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(1)
  })

  it('may also be given inside the options, as Fastify users write it', async () => {
    const app = new Koa()
    const mw = aibridge({ ...anthropicAt(t.up.url), prefix: '/gw' } as Parameters<typeof aibridge>[0])
    t.own(mw.bridge)
    app.use(mw)
    app.use((ctx) => {
      ctx.status = 418
    })
    const origin = await t.serveApp(app)
    const res = await fetch(`${origin}/gw/anthropic/v1/messages`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(1)
    expect((await fetch(`${origin}/anthropic/v1/messages`, { method: 'POST', body: '{}' })).status).toBe(418)
    expect(() => aibridge({ ...anthropicAt(t.up.url), prefix: '/a' } as Parameters<typeof aibridge>[0], { prefix: '/b' })).toThrow('prefix is given twice')
  })

  it('is validated when the middleware is created, with a message naming it', () => {
    expect(() => aibridge(anthropicAt('http://127.0.0.1:9'), { prefix: 'ai' })).toThrow(AibridgeOptionError)
    expect(() => aibridge(anthropicAt('http://127.0.0.1:9'), { prefix: 'ai' })).toThrow(`prefix must be '' or a path starting with '/', got "ai"`)
    // The Express habit of a path argument would otherwise mount at the root without a word.
    expect(() => aibridge(anthropicAt('http://127.0.0.1:9'), '/ai' as never)).toThrow(`the second argument must be { prefix }, got "/ai"`)
    // A key passed where the prefix goes is masked like a hint, never printed.
    const key = 'sk-ant-api03-DO-NOT-PRINT-0123456789abcdef'
    for (const attempt of [() => aibridge(anthropicAt('http://127.0.0.1:9'), key as never), () => aibridge(anthropicAt('http://127.0.0.1:9'), { prefix: key })]) {
      expect(attempt).toThrow(AibridgeOptionError)
      expect(attempt).toThrow('a 42-character string (sk-a...cdef)')
      expect(attempt).not.toThrow(/DO-NOT-PRINT/)
    }
  })
})

it('bad bridge options throw when the middleware is created, not on the first request', () => {
  expect(() => aibridge({ providers: { anthropic: { keys: [''] } } })).toThrow(AibridgeOptionError)
})

it("lets an error escaping the bridge reach the app's error-handling middleware", async () => {
  const app = new Koa()
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      ctx.status = 503
      ctx.body = `app error handler: ${(err as Error).message}`
    }
  })
  const failing = { dispatch: () => Promise.reject(new Error('store unavailable')) } as unknown as Bridge
  app.use(aibridge(failing, { prefix: '/ai' }))
  const origin = await t.serveApp(app)
  const res = await fetch(`${origin}/ai/anthropic/v1/messages`)
  expect(res.status).toBe(503)
  expect(await res.text()).toBe('app error handler: store unavailable')
})
