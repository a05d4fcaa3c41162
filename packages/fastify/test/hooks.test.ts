import Fastify from 'fastify'
import { randomBytes } from 'node:crypto'
import { PassThrough, type Transform } from 'node:stream'
import { createGunzip, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { post, raw } from '../../../test/support/http.js'
import aibridge, { type InterceptionRecord } from '../src/index.js'
import { anthropic429, listen, providers } from './helpers.js'

const t = fixture()

it("runs the host's onRequest, onSend and onResponse hooks around proxied requests", async () => {
  const app = t.host(Fastify())
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
  const denied = await raw(base, '/ai/openai/v1/models')
  expect(denied.status).toBe(401)
  expect(t.up.requests).toHaveLength(0)

  const tenant = { 'x-tenant': 'acme' }
  const ok = await raw(base, '/ai/openai/v1/models', { headers: tenant })
  expect(ok.status).toBe(200)
  expect(ok.headers['x-host-on-send']).toBe('yes')

  // An answer of aibridge's own (every key rate-limited) goes through the same hooks.
  t.up.queue(anthropic429, anthropic429)
  const exhausted = await post(base, '/ai/anthropic/v1/messages', { model: 'm' }, tenant)
  expect(exhausted.status).toBe(429)
  expect(exhausted.headers['x-host-on-send']).toBe('yes')

  await expect.poll(() => responses).toEqual([
    { url: '/ai/openai/v1/models', status: 401 },
    { url: '/ai/openai/v1/models', status: 200 },
    { url: '/ai/anthropic/v1/messages', status: 429 },
  ])
})

describe('with a host preParsing hook that replaces the body stream', () => {
  async function start(transform: () => Transform, bodyLimit?: number): Promise<string> {
    const app = t.host(Fastify())
    app.addHook('preParsing', async (_request, _reply, payload) => payload.pipe(transform()))
    await app.register(aibridge, { prefix: '/ai', bodyLimit, providers: providers(t.up) })
    return listen(app)
  }

  it('forwards what the transform yields, whole, on every attempt', async () => {
    const base = await start(() => new PassThrough())
    t.up.queue(anthropic429)
    const sent = randomBytes(512 * 1024)
    const res = await raw(base, '/ai/anthropic/v1/files', { headers: { 'content-type': 'application/octet-stream' }, body: sent })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(2)
    for (const seen of t.up.requests) expect(seen.body.equals(sent)).toBe(true)
  })

  it('forwards a decoded body without the Content-Encoding it no longer has', async () => {
    // Paused, as @fastify/compress hands its decompressor over.
    const base = await start(() => createGunzip().pause())
    const text = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'decoded by the host' }] })
    const res = await raw(base, '/ai/openai/v1/chat/completions', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(text) })
    expect(res.status).toBe(200)
    expect(t.up.requests[0]!.body.toString()).toBe(text)
    expect(t.up.requests[0]!.headers['content-encoding']).toBeUndefined()
  })

  it('still refuses a body over the limit, counted after the transform, with no upstream call', async () => {
    const base = await start(() => createGunzip(), 64 * 1024)
    // 10 KiB on the wire, 1 MiB once decoded.
    const res = await raw(base, '/ai/openai/v1/chat/completions', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(1024 * 1024, 0x20)) })
    expect(res.status).toBe(413)
    expect(t.up.requests).toHaveLength(0)
  })

  it('answers a body the transform cannot decode with 400 in the provider shape, recorded as rejected', async () => {
    const records: InterceptionRecord[] = []
    const app = t.host(Fastify())
    app.addHook('preParsing', async (_request, _reply, payload) => payload.pipe(createGunzip()))
    await app.register(aibridge, { prefix: '/ai', providers: providers(t.up), onInterception: (r) => void records.push(r) })
    const base = await listen(app)
    const res = await raw(base, '/ai/anthropic/v1/messages', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'not gzip at all' })
    expect(res.status).toBe(400)
    expect(res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'aibridge: the request body could not be read (Z_DATA_ERROR)' } })
    expect(t.up.requests).toHaveLength(0)
    await expect.poll(() => records.length).toBe(1)
    expect(records[0]).toMatchObject({ outcome: 'rejected', status: 400, attempts: 0 })
  })
})
