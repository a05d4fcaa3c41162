import Fastify from 'fastify'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { expect, it } from 'vitest'
import aibridge from '../src/index.js'
import { listen, post, providers, send, setup } from './helpers.js'
import { rateLimited } from './upstream.js'

const t = setup()

it("runs the host's onRequest, onSend and onResponse hooks around proxied requests", async () => {
  const app = t.own(Fastify())
  const responses: Array<{ url: string; status: number }> = []
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers['x-tenant'] === undefined) return reply.code(401).send({ error: 'tenant required' })
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-host-on-send', 'yes')
    return payload
  })
  app.addHook('onResponse', async (request, reply) => {
    responses.push({ url: request.url, status: reply.statusCode })
  })
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  const base = await listen(app)

  // The host's own authentication stops a request before any key is spent.
  const denied = await send(base, '/ai/openai/v1/models')
  expect(denied.status).toBe(401)
  expect(t.up.requests).toHaveLength(0)

  const tenant = { 'x-tenant': 'acme' }
  const ok = await send(base, '/ai/openai/v1/models', { headers: tenant })
  expect(ok.status).toBe(200)
  expect(ok.headers['x-host-on-send']).toBe('yes')

  // An answer of aibridge's own (every key rate-limited) goes through the same hooks.
  t.up.queue(rateLimited, rateLimited)
  const exhausted = await post(base, '/ai/anthropic/v1/messages', { model: 'm' }, tenant)
  expect(exhausted.status).toBe(429)
  expect(exhausted.headers['x-host-on-send']).toBe('yes')

  await expect.poll(() => responses).toEqual([
    { url: '/ai/openai/v1/models', status: 401 },
    { url: '/ai/openai/v1/models', status: 200 },
    { url: '/ai/anthropic/v1/messages', status: 429 },
  ])
})

it("is not held up by a host preParsing hook that replaces the body stream", async () => {
  const app = t.own(Fastify())
  let hooked = 0
  app.addHook('preParsing', async (_request, _reply, payload) => {
    hooked++
    return payload.pipe(new PassThrough())
  })
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  const base = await listen(app)
  const sent = randomBytes(512 * 1024)
  const res = await send(base, '/ai/openai/v1/files', { headers: { 'content-type': 'application/octet-stream' }, body: sent })
  expect(res.status).toBe(200)
  expect(hooked).toBe(1)
  expect(t.up.requests[0]!.body.equals(sent)).toBe(true)
})
