import compress9 from '@fastify/compress'
import compress8 from '@fastify/compress-8'
import Fastify from 'fastify'
import { randomBytes } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { open, raw, readRest, readUntil } from '../../../test/support/http.js'
import { json, sse } from '../../../test/support/upstream.js'
import { gate } from '../../../test/support/wait.js'
import aibridge from '../src/index.js'
import { listen, providers } from './helpers.js'

const t = fixture()

const gzip = { 'accept-encoding': 'gzip' }
const stream = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })

// Version 9 reads route options where 8 read the route config: both must leave the bridge's bodies alone.
describe.each([
  { version: 9, compress: compress9 },
  { version: 8, compress: compress8 as unknown as typeof compress9 },
])('@fastify/compress $version', ({ compress }) => {
  describe.each([
    { setting: 'its defaults', options: {} },
    // A host that compresses every type would otherwise buffer the event stream in gzip.
    { setting: 'customTypes matching every type', options: { customTypes: /./ } },
  ])('with @fastify/compress and $setting', ({ options }) => {
    it('streams SSE event by event, uncompressed', async () => {
      const app = t.host(Fastify())
      await app.register(compress, options)
      await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
      const base = await listen(app)
      const release = gate()
      t.up.queue(sse([`event: message_start\ndata: {"pad":"${'p'.repeat(2048)}"}\n\n`, 'event: message_stop\ndata: {}\n\n'], { hold: release.promise }))

      const { req, response } = open(base, '/ai/anthropic/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', ...gzip } })
      req.end(stream)
      const res = await response
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
      expect(res.headers['content-encoding']).toBeUndefined()
      const first = await readUntil(res, 'message_start')
      expect(first).not.toContain('message_stop')
      expect(t.up.requests[0]!.aborted).toBe(false)
      release.open()
      expect(first + (await readRest(res))).toContain('event: message_stop')
    })

    it('still compresses a JSON answer', async () => {
      const app = t.host(Fastify())
      await app.register(compress, options)
      await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
      const base = await listen(app)
      const answer = { data: Array.from({ length: 200 }, (_, i) => ({ id: `model-${i}` })) }
      t.up.queue(json(200, answer))
      const res = await raw(base, '/ai/openai/v1/models', { headers: gzip })
      expect(res.status).toBe(200)
      expect(res.headers['content-encoding']).toBe('gzip')
      expect(JSON.parse(gunzipSync(res.body).toString())).toEqual(answer)
    })
  })

  it('forwards a gzip-encoded request body undecompressed, failover included', async () => {
    const app = t.host(Fastify())
    await app.register(compress)
    app.post('/echo', async (request) => request.body)
    await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
    const base = await listen(app)
    const sent = gzipSync(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: randomBytes(64 * 1024).toString('base64') }] }))
    t.up.queue(json(429, { error: { message: 'slow', type: 'rate_limit_error', code: 'rate_limit_exceeded' } }))

    const res = await raw(base, '/ai/openai/v1/chat/completions', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: sent })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(2)
    for (const seen of t.up.requests) {
      expect(seen.headers['content-encoding']).toBe('gzip')
      expect(seen.body.equals(sent)).toBe(true)
    }
    // The host's own routes keep @fastify/compress's request decompression.
    const echo = await raw(base, '/echo', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync('{"n":1}') })
    expect(echo.json()).toEqual({ n: 1 })
  })

  it('forwards a body @fastify/compress could not decompress as sent, for the provider to judge', async () => {
    const app = t.host(Fastify())
    await app.register(compress)
    await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
    const base = await listen(app)
    const sent = Buffer.from('{"this is":"not gzip"}')
    t.up.queue(json(400, { error: { message: 'could not decode body', type: 'invalid_request_error', param: null, code: null } }))

    const res = await raw(base, '/ai/openai/v1/chat/completions', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: sent })
    expect(res.status).toBe(400)
    expect(res.json().error.message).toBe('could not decode body')
    expect(t.up.requests).toHaveLength(1)
    expect(t.up.requests[0]!.body.equals(sent)).toBe(true)
  })
})
