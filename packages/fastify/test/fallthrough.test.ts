import Fastify, { type FastifyInstance } from 'fastify'
import { expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { post, raw } from '../../../test/support/http.js'
import aibridge from '../src/index.js'
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
