/** Mounting: under a prefix, at the root and inside koa-mount; failover with body replay; falling through to the app's routes. */
import { aibridge, AibridgeOptionError, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import mount from 'koa-mount'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { anthropicAt, K1, K2, serve, type Served } from './helpers.js'
import { rateLimited, startUpstream, type Upstream } from './upstream.js'

// Whitespace, key order and non-ASCII that a JSON round trip would not keep byte for byte.
const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'

let upstream: Upstream
let served: Served | undefined
let bridge: Bridge | undefined

beforeEach(async () => {
  upstream = await startUpstream()
})
afterEach(async () => {
  await served?.close()
  await bridge?.close()
  served = undefined
  bridge = undefined
  await upstream.close()
})

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
  beforeEach(async () => {
    const app = new Koa()
    const mw = aibridge(anthropicAt(upstream.baseURL), { prefix })
    bridge = mw.bridge
    use(app, mw)
    hostRoutes(app, at)
    served = await serve(app)
  })

  it('serves a request with the primary key, the mount path stripped and the query kept', async () => {
    const res = await fetch(`${served!.origin}${at}/anthropic/v1/messages?beta=true&x=a%20b`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: SENT,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('request-id')).toBe('req_upstream_1')
    expect(((await res.json()) as { key: string }).key).toBe(K1)
    expect(upstream.requests).toHaveLength(1)
    const [up] = upstream.requests
    expect(up!.url).toBe('/v1/messages?beta=true&x=a%20b')
    expect(up!.headers['anthropic-version']).toBe('2023-06-01')
    expect(up!.body.toString('utf8')).toBe(SENT)
  })

  it('fails over on 429 and replays the identical bytes to the next key', async () => {
    upstream.script(rateLimited(30))
    const res = await fetch(`${served!.origin}${at}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { key: string }).key).toBe(K2)
    expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
    for (const r of upstream.requests) expect(r.body.equals(Buffer.from(SENT))).toBe(true)
    expect(bridge!.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
  })

  it("calls next() for paths that name no provider, reaching the app's own routes", async () => {
    const ping = await fetch(`${served!.origin}${at}/_host/ping`)
    expect(ping.status).toBe(200)
    expect(await ping.json()).toEqual({ host: 'koa' })
    const unknown = await fetch(`${served!.origin}${at}/mistral/v1/chat`)
    expect(unknown.status).toBe(404)
    expect(await unknown.text()).toBe(`app 404 ${at}/mistral/v1/chat`)
    const bare = await fetch(`${served!.origin}${at}?x=1`)
    expect(bare.status).toBe(404)
    expect(upstream.requests).toHaveLength(0)
  })
})

describe('the prefix', () => {
  it('matches whole segments only: /aiX and paths outside it are left to the app', async () => {
    const app = new Koa()
    const mw = aibridge(anthropicAt(upstream.baseURL), { prefix: '/ai/' })
    bridge = mw.bridge
    app.use(mw)
    app.use((ctx) => {
      ctx.status = 418
      ctx.body = `app ${ctx.path}`
    })
    served = await serve(app)
    for (const path of ['/aiX/anthropic/v1/messages', '/anthropic/v1/messages', '/AI/anthropic/v1/messages']) {
      const res = await fetch(`${served.origin}${path}`, { method: 'POST', body: '{}' })
      expect(res.status, path).toBe(418)
      expect(await res.text()).toBe(`app ${path}`)
    }
    expect(upstream.requests).toHaveLength(0)
    // The trailing slash of '/ai/' is not part of the match.
    const res = await fetch(`${served.origin}/ai/anthropic/v1/messages`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(200)
    expect(upstream.requests).toHaveLength(1)
  })

  it('is validated when the middleware is created, with a message naming it', () => {
    expect(() => aibridge(anthropicAt('http://127.0.0.1:9'), { prefix: 'ai' })).toThrow(AibridgeOptionError)
    expect(() => aibridge(anthropicAt('http://127.0.0.1:9'), { prefix: 'ai' })).toThrow(`prefix must be '' or a path starting with '/', got "ai"`)
    // The Express habit of a path argument would otherwise mount at the root without a word.
    expect(() => aibridge(anthropicAt('http://127.0.0.1:9'), '/ai' as never)).toThrow(`the second argument must be { prefix }, got "/ai"`)
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
  served = await serve(app)
  const res = await fetch(`${served.origin}/ai/anthropic/v1/messages`)
  expect(res.status).toBe(503)
  expect(await res.text()).toBe('app error handler: store unavailable')
})
