/** Mounting: under a prefix and at the root, failover with body replay, and falling through to the host's routes. */
import { aibridge, type Bridge } from '@aibridge/express'
import type { ErrorRequestHandler } from 'express'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { anthropicAt, flavours, K1, K2, serve, type Served } from './helpers.js'
import { rateLimited, startUpstream, type Upstream } from './upstream.js'

// Whitespace, key order and non-ASCII that a JSON round trip would not keep byte for byte.
const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'

describe.each(flavours)('$name', ({ express }) => {
  let upstream: Upstream
  let served: Served | undefined
  beforeEach(async () => {
    upstream = await startUpstream()
  })
  afterEach(async () => {
    await served?.close()
    served = undefined
    await upstream.close()
  })

  describe.each([
    { mount: 'under /ai', prefix: '/ai' },
    { mount: 'at the root', prefix: '' },
  ])('$mount', ({ prefix }) => {
    let bridge: Bridge
    beforeEach(async () => {
      const app = express()
      const mw = aibridge(anthropicAt(upstream.baseURL))
      bridge = mw.bridge
      if (prefix) app.use(prefix, mw)
      else app.use(mw)
      app.get(`${prefix}/_host/ping`, (_req, res) => {
        res.json({ host: 'app' })
      })
      app.use((_req, res) => {
        res.status(404).type('text/plain').send('app 404')
      })
      served = await serve(app)
    })
    afterEach(() => bridge.close())

    it('serves a request with the primary key, the mount path stripped and the query kept', async () => {
      const res = await fetch(`${served!.origin}${prefix}/anthropic/v1/messages?beta=true&x=a%20b`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: SENT,
      })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { key: string }).key).toBe(K1)
      expect(upstream.requests).toHaveLength(1)
      const [up] = upstream.requests
      expect(up!.url).toBe('/v1/messages?beta=true&x=a%20b')
      expect(up!.headers['anthropic-version']).toBe('2023-06-01')
      expect(up!.body.toString('utf8')).toBe(SENT)
    })

    it('fails over on 429 and replays the identical bytes to the next key', async () => {
      upstream.script(rateLimited(30))
      const res = await fetch(`${served!.origin}${prefix}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
      expect(res.status).toBe(200)
      expect(((await res.json()) as { key: string }).key).toBe(K2)
      expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
      for (const r of upstream.requests) expect(r.body.equals(Buffer.from(SENT))).toBe(true)
      expect(bridge.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
    })

    it("calls next() for paths that name no provider, reaching the app's own routes", async () => {
      const ping = await fetch(`${served!.origin}${prefix}/_host/ping`)
      expect(ping.status).toBe(200)
      expect(await ping.json()).toEqual({ host: 'app' })
      const unknown = await fetch(`${served!.origin}${prefix}/mistral/v1/chat`)
      expect(unknown.status).toBe(404)
      expect(await unknown.text()).toBe('app 404')
      expect(upstream.requests).toHaveLength(0)
    })
  })

  it('leaves paths outside its mount path to the app', async () => {
    const app = express()
    const mw = aibridge(anthropicAt(upstream.baseURL))
    app.use('/ai', mw)
    app.all('/anthropic/v1/messages', (_req, res) => {
      res.status(418).send('not the bridge')
    })
    served = await serve(app)
    const res = await fetch(`${served.origin}/anthropic/v1/messages`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(418)
    expect(upstream.requests).toHaveLength(0)
    await mw.bridge.close()
  })

  it("passes an error to the app's error handler when nothing was sent yet", async () => {
    const app = express()
    const failing = { handle: () => Promise.reject(new Error('store unavailable')), dispatch: () => Promise.reject(new Error('store unavailable')) } as unknown as Parameters<typeof aibridge>[0]
    app.use('/ai', aibridge(failing))
    const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
      res.status(503).send(`app error handler: ${err.message}`)
    }
    app.use(onError)
    served = await serve(app)
    const res = await fetch(`${served.origin}/ai/anthropic/v1/messages`)
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('app error handler: store unavailable')
  })
})
