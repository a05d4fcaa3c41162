import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { open, post, raw } from '../../../test/support/http.js'
import aibridge from '../src/index.js'
import { listen, providers } from './helpers.js'

const t = fixture()

function message(size: number): { model: string; messages: { role: string; content: string }[] } {
  return { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(size) }] }
}

it("uses the Fastify instance's bodyLimit: 413 in the Anthropic shape, no upstream call", async () => {
  const app = t.host(Fastify({ bodyLimit: 1024 }))
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  const base = await listen(app)

  const res = await post(base, '/ai/anthropic/v1/messages', message(2048))
  expect(res.status).toBe(413)
  expect(res.headers.connection).toBe('close')
  expect(res.json()).toEqual({
    type: 'error',
    error: { type: 'request_too_large', message: expect.stringMatching(/1024 byte limit/) },
  })
  expect(t.up.requests).toHaveLength(0)

  const ok = await post(base, '/ai/anthropic/v1/messages', message(512))
  expect(ok.status).toBe(200)
  expect(t.up.requests).toHaveLength(1)
})

it('refuses a chunked body (no Content-Length) once it passes the limit', async () => {
  const app = t.host(Fastify({ bodyLimit: 1024 }))
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  const base = await listen(app)

  const { req, response } = open(base, '/ai/openai/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } })
  for (let i = 0; i < 8; i++) req.write('x'.repeat(512))
  req.end()
  const res = await response
  let text = ''
  for await (const chunk of res) text += String(chunk)
  expect(res.statusCode).toBe(413)
  expect(JSON.parse(text).error.code).toBe('request_too_large')
  expect(t.up.requests).toHaveLength(0)
})

it('lets the plugin option bodyLimit override the instance for its routes only, 413 in the OpenAI shape', async () => {
  const app = t.host(Fastify({ bodyLimit: 1024 }))
  app.post('/echo', async (request) => request.body)
  await app.register(aibridge, { prefix: '/ai', bodyLimit: 4096, providers: providers(t.up) })
  const base = await listen(app)

  const ok = await post(base, '/ai/openai/v1/chat/completions', message(2048))
  expect(ok.status).toBe(200)
  const big = await post(base, '/ai/openai/v1/chat/completions', message(8192))
  expect(big.status).toBe(413)
  expect(big.json()).toEqual({
    error: { message: expect.stringMatching(/4096 byte limit/), type: 'invalid_request_error', param: null, code: 'request_too_large' },
  })
  expect(t.up.requests).toHaveLength(1)

  // The host's own routes keep the instance's limit and Fastify's own error.
  const host = await post(base, '/echo', message(2048))
  expect(host.status).toBe(413)
  expect(host.json().code).toBe('FST_ERR_CTP_BODY_TOO_LARGE')
})

it("defaults to Fastify's own 1 MiB, not the bridge's 32 MiB", async () => {
  const app = t.host(Fastify())
  await app.register(aibridge, { providers: providers(t.up) })
  const base = await listen(app)
  const res = await raw(base, '/openai/v1/files', { headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1024 * 1024 + 1) })
  expect(res.status).toBe(413)
  expect(res.json().error.message).toMatch(/1048576 byte limit/)
  expect(t.up.requests).toHaveLength(0)
})
