/** Mounting: under a prefix and at the root, failover with body replay, and falling through to the host's routes. */
import { aibridge, type Bridge, type BridgeOptions } from '@aibridge/express'
import type { ErrorRequestHandler } from 'express'
import { beforeEach, describe, expect, it } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { rateLimited } from '../../../test/support/upstream.js'
import { flavours, K1, K2, setup } from './helpers.js'

// Whitespace, key order and non-ASCII that a JSON round trip would not keep byte for byte.
const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'

describe.each(flavours)('$name', ({ express }) => {
  const t = setup()

  describe.each([
    { mount: 'under /ai', prefix: '/ai' },
    { mount: 'at the root', prefix: '' },
  ])('$mount', ({ prefix }) => {
    let bridge: Bridge
    let origin: string
    beforeEach(async () => {
      const app = express()
      const mw = t.aibridge()
      bridge = mw.bridge
      if (prefix) app.use(prefix, mw)
      else app.use(mw)
      app.get(`${prefix}/_host/ping`, (_req, res) => {
        res.json({ host: 'app' })
      })
      app.use((_req, res) => {
        res.status(404).type('text/plain').send('app 404')
      })
      origin = await t.serve(app)
    })

    it('serves a request with the primary key, the mount path stripped and the query kept', async () => {
      const res = await fetch(`${origin}${prefix}/anthropic/v1/messages?beta=true&x=a%20b`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: SENT,
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { key: string }).key).toBe(K1)
      expect(t.up.requests).toHaveLength(1)
      const [up] = t.up.requests
      expect(up!.url).toBe('/v1/messages?beta=true&x=a%20b')
      expect(up!.headers['anthropic-version']).toBe('2023-06-01')
      expect(up!.body.toString('utf8')).toBe(SENT)
    })

    it('fails over on 429 and replays the identical bytes to the next key', async () => {
      t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
      const res = await fetch(`${origin}${prefix}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { key: string }).key).toBe(K2)
      expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
      for (const r of t.up.requests) expect(r.body.equals(Buffer.from(SENT))).toBe(true)
      expect(bridge.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
    })

    it('serves an absolute-form request target (RFC 9112 section 3.2.2) by its path', async () => {
      const res = await raw(origin, `http://elsewhere.example${prefix}/anthropic/v1/messages?beta=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
      expect(res.status).toBe(200)
      expect(t.up.requests.map((r) => r.url)).toEqual(['/v1/messages?beta=true'])
    })

    it("calls next() for paths that name no provider, reaching the app's own routes", async () => {
      const ping = await fetch(`${origin}${prefix}/_host/ping`)
      expect(ping.status).toBe(200)
      expect(await ping.json()).toEqual({ host: 'app' })
      const unknown = await fetch(`${origin}${prefix}/mistral/v1/chat`)
      expect(unknown.status).toBe(404)
      expect(await unknown.text()).toBe('app 404')
      expect(t.up.requests).toHaveLength(0)
    })
  })

  it('leaves paths outside its mount path to the app', async () => {
    const app = express()
    app.use('/ai', t.aibridge())
    app.all('/anthropic/v1/messages', (_req, res) => {
      res.status(418).send('not the bridge')
    })
    const origin = await t.serve(app)
    const res = await fetch(`${origin}/anthropic/v1/messages`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(418)
    expect(t.up.requests).toHaveLength(0)
  })

  it('serves below a prefix given in the options when mounted at the root', async () => {
    const app = express()
    app.use(t.aibridge({ prefix: '/gw' } as Partial<BridgeOptions>))
    app.use((_req, res) => {
      res.status(418).send('app')
    })
    const origin = await t.serve(app)
    const res = await fetch(`${origin}/gw/anthropic/v1/messages?q=1`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(200)
    expect(t.up.requests.map((r) => r.url)).toEqual(['/v1/messages?q=1'])
    for (const outside of ['/anthropic/v1/messages', '/gwx/anthropic/v1/messages']) {
      expect((await fetch(`${origin}${outside}`, { method: 'POST', body: '{}' })).status, outside).toBe(418)
    }
    expect(t.up.requests).toHaveLength(1)
  })

  it("matches a prefix given in the options the way the app matches its mount paths ('case sensitive routing')", async () => {
    for (const sensitive of [false, true]) {
      const app = express()
      app.set('case sensitive routing', sensitive)
      app.use(t.aibridge({ prefix: '/GW' } as Partial<BridgeOptions>))
      app.use('/Mounted', t.aibridge({}))
      app.use((_req, res) => {
        res.status(418).send('app')
      })
      const origin = await t.serve(app)
      const inline = await fetch(`${origin}/gw/anthropic/v1/messages`, { method: 'POST', body: '{}' })
      const mounted = await fetch(`${origin}/mounted/anthropic/v1/messages`, { method: 'POST', body: '{}' })
      expect([inline.status, mounted.status], `case sensitive routing: ${sensitive}`).toEqual(sensitive ? [418, 418] : [200, 200])
    }
  })

  it("passes an error to the app's error handler when nothing was sent yet", async () => {
    const app = express()
    const failing = { handle: () => Promise.reject(new Error('store unavailable')), dispatch: () => Promise.reject(new Error('store unavailable')) } as unknown as Parameters<typeof aibridge>[0]
    app.use('/ai', aibridge(failing))
    const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
      res.status(503).send(`app error handler: ${err.message}`)
    }
    app.use(onError)
    const origin = await t.serve(app)
    const res = await fetch(`${origin}/ai/anthropic/v1/messages`)
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('app error handler: store unavailable')
  })
})
