import cors from '@fastify/cors'
import Fastify, { type FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { post, raw } from '../../../test/support/http.js'
import aibridge, { createBridge } from '../src/index.js'
import { listen, providers } from './helpers.js'

const t = fixture()

/** A host app with its own routes (some under the prefix), JSON parsing and not-found handler. */
async function host(prefix: string): Promise<{ app: FastifyInstance; base: string }> {
  const app = t.host(Fastify())
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ host404: request.url }))
  app.get(`${prefix}/_host/ping`, async () => ({ host: 'fastify' }))
  app.post('/echo', async (request) => ({ parsed: request.body, type: typeof request.body }))
  await app.register(aibridge, { prefix, providers: providers(t.up) })
  return { app, base: await listen(app) }
}

it("lets a path naming no provider fall through to the host's not-found handler", async () => {
  const { base } = await host('/ai')
  const res = await post(base, '/ai/nosuchprovider/v1/x', { a: 1 })
  expect(res.status).toBe(404)
  expect(res.json()).toEqual({ host404: '/ai/nosuchprovider/v1/x' })
  const bare = await raw(base, '/ai/')
  expect(bare.json()).toEqual({ host404: '/ai/' })
  expect(t.up.requests).toHaveLength(0)
})

it('leaves host routes under the prefix to the host', async () => {
  const { base } = await host('/ai')
  const res = await raw(base, '/ai/_host/ping')
  expect(res.status).toBe(200)
  expect(res.json()).toEqual({ host: 'fastify' })
  expect(t.up.requests).toHaveLength(0)
})

it("keeps the host's own body parsing outside the prefix", async () => {
  const { base } = await host('/ai')
  const res = await post(base, '/echo', { hello: ['world'] })
  expect(res.json()).toEqual({ parsed: { hello: ['world'] }, type: 'object' })
  // Fastify's JSON parser still refuses bad JSON there, and its unknown media types.
  const bad = await raw(base, '/echo', { headers: { 'content-type': 'application/json' }, body: '{nope' })
  expect(bad.status).toBe(400)
  expect(bad.json().code).toBe('FST_ERR_CTP_INVALID_JSON_BODY')
  const unknown = await raw(base, '/echo', { headers: { 'content-type': 'application/x-whatever' }, body: 'x' })
  expect(unknown.status).toBe(415)
})

it('at the root, host routes and the not-found handler still answer', async () => {
  const { base } = await host('')
  expect((await raw(base, '/_host/ping')).json()).toEqual({ host: 'fastify' })
  expect((await post(base, '/echo', { n: 1 })).json()).toEqual({ parsed: { n: 1 }, type: 'object' })
  const res = await raw(base, '/favicon.ico')
  expect(res.status).toBe(404)
  expect(res.json()).toEqual({ host404: '/favicon.ico' })
  const served = await raw(base, '/openai/v1/models')
  expect(served.status).toBe(200)
  expect(t.up.requests).toHaveLength(1)
})

describe.each(['before', 'after'])('at the root with @fastify/cors registered %s and a host catch-all route', (order) => {
  it('claims only the providers\' paths: the app starts, CORS preflights and every other path stay the host\'s', async () => {
    const app = t.host(Fastify())
    if (order === 'before') await app.register(cors, { origin: '*' })
    await app.register(aibridge, { providers: providers(t.up) })
    if (order === 'after') await app.register(cors, { origin: '*' })
    // GET only: @fastify/cors owns OPTIONS on every path.
    app.get('/*', async (request) => ({ spa: request.url }))
    const base = await listen(app)

    const served = await post(base, '/openai/v1/chat/completions', { model: 'm' }, { origin: 'http://app.example' })
    expect(served.status).toBe(200)
    expect(served.headers['access-control-allow-origin']).toBe('*')
    expect((await raw(base, '/anthropic')).status).toBe(200)
    expect(t.up.requests.map((r) => r.url)).toEqual(['/v1/chat/completions', '/'])

    const preflight = await raw(base, '/openai/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(t.up.requests).toHaveLength(2)

    for (const path of ['/dashboard', '/openaix/v1', '/mistral/v1/chat']) {
      expect((await raw(base, path)).json(), path).toEqual({ spa: path })
    }
    expect(t.up.requests).toHaveLength(2)
  })
})

it('a bridge shared by several mounts answers for all of its providers', async () => {
  const bridge = createBridge({ providers: { ...providers(t.up), groq: { type: 'openai', baseURL: `${t.up.url}/groq`, keys: ['gsk-test-aaaaaaaaaaaa'] } } })
  const app = t.host(Fastify())
  await app.register(aibridge, { prefix: '/one', bridge })
  await app.register(aibridge, { prefix: '/two', bridge })
  app.addHook('onClose', () => bridge.close())
  const base = await listen(app)
  expect((await post(base, '/one/groq/v1/chat/completions', {})).status).toBe(200)
  expect((await post(base, '/two/anthropic/v1/messages', {})).status).toBe(200)
  expect(t.up.requests.map((r) => r.url)).toEqual(['/groq/v1/chat/completions', '/v1/messages'])
})
