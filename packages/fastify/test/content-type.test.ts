// Issue 15: Fastify answers a Content-Type that is no media type with its own 415; the bridge's routes
// forward it like any other type.
import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { raw } from '../../../test/support/http.js'
import aibridge from '../src/index.js'
import { listen, providers } from './helpers.js'

const t = fixture()

async function start(): Promise<string> {
  const app = t.host(Fastify())
  // A host hook after the plugin's context sees the type the client sent.
  app.addHook('preHandler', async (request) => {
    request.raw.headers['x-type-seen-by-host'] = JSON.stringify(request.headers['content-type'] ?? null)
  })
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  app.post('/own', async (request) => ({ body: request.body }))
  return listen(app)
}

it.each(['', ' ', 'json', 'text/', 'undefined'])('forwards Content-Type %j with the body, byte for byte', async (type) => {
  const base = await start()
  const sent = '{"model":"gpt","messages":[]}'
  const res = await raw(base, '/ai/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': type }, body: sent })
  expect(res.status).toBe(200)
  const [seen] = t.up.requests
  expect(seen!.headers['content-type']).toBe(type.trim())
  expect(seen!.body.toString('utf8')).toBe(sent)
  expect(seen!.headers['x-type-seen-by-host']).toBe(JSON.stringify(type.trim()))
})

it('forwards an empty Content-Type on a request without a body', async () => {
  const base = await start()
  const res = await raw(base, '/ai/openai/v1/models', { method: 'POST', headers: { 'content-type': '', 'content-length': '0' } })
  expect(res.status).toBe(200)
  expect(t.up.requests[0]!.headers['content-type']).toBe('')
  expect(t.up.requests[0]!.headers['x-type-seen-by-host']).toBe('""')
})

it("leaves the app's own routes to Fastify's rules: an empty Content-Type there still gets its 415", async () => {
  const base = await start()
  const res = await raw(base, '/own', { method: 'POST', headers: { 'content-type': '' }, body: '{}' })
  expect(res.status).toBe(415)
  expect(t.up.requests).toHaveLength(0)
})
