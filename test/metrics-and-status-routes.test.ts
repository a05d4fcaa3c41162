/**
 * The `/metrics` route and the status page mounted the way each adapter's README shows, on Express,
 * Koa and Fastify: a request through the bridge shows up in the scrape and on the page.
 */
import { prometheus } from '@aibridge/prometheus'
import { aibridge as expressBridge, createBridge, statusPage, type Bridge } from '@aibridge/express'
import { aibridge as fastifyBridge } from '@aibridge/fastify'
import { aibridge as koaBridge } from '@aibridge/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'
import http, { type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { describe, expect, test } from 'vitest'
import { fixture } from './support/fixture.js'
import { closeServer, listen, post, raw } from './support/http.js'
import { anthropicMessage, json } from './support/upstream.js'

const f = fixture(json(200, anthropicMessage()))
const KEY = 'sk-ant-api03-metrics-route-0123456789abcdef'

// The README's placeholder for the host's own check: here, a header.
const isOperator = (req: IncomingMessage): boolean => req.headers['x-operator'] === 'yes'

interface Host {
  url: string
  bridge: Bridge
}

const hosts: Record<string, () => Promise<Host>> = {
  async express() {
    const app = express()
    const ai = expressBridge({ providers: { anthropic: { keys: [KEY], baseURL: f.up.url } } })
    app.use('/ai', ai)
    f.own(ai.bridge)
    const registry = new Registry()
    prometheus(ai.bridge, { registry })
    app.get('/metrics', async (_req, res) => {
      res.set('content-type', registry.contentType).send(await registry.metrics())
    })
    app.get('/ai/status', statusPage(ai.bridge, { authorize: isOperator }))
    const server = http.createServer(app)
    f.host({ close: () => closeServer(server) })
    return { url: await listen(server), bridge: ai.bridge }
  },

  async koa() {
    const app = new Koa()
    const ai = koaBridge({ providers: { anthropic: { keys: [KEY], baseURL: f.up.url } } }, { prefix: '/ai' })
    app.use(ai)
    f.own(ai.bridge)
    const registry = new Registry()
    prometheus(ai.bridge, { registry })
    const status = statusPage(ai.bridge, { authorize: isOperator })
    app.use(async (ctx, next) => {
      if (ctx.path === '/metrics') {
        ctx.type = registry.contentType
        ctx.body = await registry.metrics()
      } else if (ctx.path === '/ai/status') {
        ctx.respond = false // the page writes the response itself
        await status(ctx.req, ctx.res)
      } else await next()
    })
    const server = http.createServer(app.callback())
    f.host({ close: () => closeServer(server) })
    return { url: await listen(server), bridge: ai.bridge }
  },

  async fastify() {
    const app = Fastify()
    const bridge = createBridge({ providers: { anthropic: { keys: [KEY], baseURL: f.up.url } } })
    await app.register(fastifyBridge, { prefix: '/ai', bridge })
    f.own(bridge)
    const registry = new Registry()
    prometheus(bridge, { registry })
    app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()))
    const status = statusPage(bridge, { authorize: isOperator })
    app.get('/ai/status', (req, reply) => {
      reply.hijack() // the page writes the response itself
      return status(req.raw, reply.raw)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    f.host({ close: () => app.close() })
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, bridge }
  },
}

describe.each(Object.keys(hosts))('%s: /metrics and the status page as the README mounts them', (name) => {
  test('a request shows up in the scrape and on the page; the page asks authorize', async () => {
    const { url } = await hosts[name]!()
    expect((await post(url, '/ai/anthropic/v1/messages', { model: 'claude-sonnet-4-6' })).status).toBe(200)

    // The record is emitted when the response closes, a moment after the client has it.
    await expect.poll(async () => (await raw(url, '/metrics')).text).toContain('aibridge_requests_total{provider="anthropic",credential_kind="centralized",outcome="ok"} 1')
    const scrape = (await raw(url, '/metrics')).text
    expect(scrape).toContain('aibridge_key_pool_state{provider="anthropic",state="valid"} 1')
    expect(scrape).not.toContain(KEY)

    expect((await raw(url, '/ai/status', { headers: { accept: 'application/json' } })).status).toBe(403)
    const page = await raw(url, '/ai/status', { headers: { accept: 'application/json', 'x-operator': 'yes' } })
    expect(page.status).toBe(200)
    expect(page.json().recent).toMatchObject([{ provider: 'anthropic', outcome: 'ok', path: '/v1/messages' }])
    const html = await raw(url, '/ai/status', { headers: { accept: 'text/html', 'x-operator': 'yes' } })
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(html.text).toContain('<title>aibridge status</title>')
  })
})
