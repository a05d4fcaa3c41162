import Fastify from 'fastify'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { post, raw } from '../../../test/support/http.js'
import { json } from '../../../test/support/upstream.js'
import aibridge from '../src/index.js'
import { A1, A2, anthropic429, listen, O1, providers } from './helpers.js'

const t = fixture()

describe.each([
  { where: 'under /ai', prefix: '/ai' as string | undefined, mount: '/ai' },
  { where: 'at the root', prefix: undefined, mount: '' },
])('$where', ({ prefix, mount }) => {
  async function start(): Promise<string> {
    const app = t.host(Fastify())
    await app.register(aibridge, { prefix, providers: providers(t.up) })
    return listen(app)
  }

  it('serves a request with the primary key and passes the answer through', async () => {
    t.up.queue(json(200, { id: 'msg_1', content: [{ type: 'text', text: 'hi' }] }, { 'request-id': 'req_up_1' }))
    const base = await start()
    const sent = { model: 'claude', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }
    const res = await post(base, `${mount}/anthropic/v1/messages?beta=true`, sent, { 'anthropic-version': '2023-06-01' })
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ id: 'msg_1', content: [{ type: 'text', text: 'hi' }] })
    expect(res.headers['request-id']).toBe('req_up_1')
    const [seen] = t.up.requests
    expect(seen).toMatchObject({ method: 'POST', url: '/v1/messages?beta=true', key: A1 })
    expect(seen!.headers['anthropic-version']).toBe('2023-06-01')
    expect(JSON.parse(seen!.body.toString())).toEqual(sent)
  })

  it('fails over on 429 and replays the JSON body byte for byte', async () => {
    t.up.queue(anthropic429)
    const base = await start()
    // Whitespace and key order a re-serialized body would lose.
    const sent = '{ "model":"claude",\n  "messages":[{"role":"user","content":"ünïcødé ✓ ' + 'x'.repeat(3000) + '"}],"max_tokens":8 }'
    const res = await raw(base, `${mount}/anthropic/v1/messages`, { headers: { 'content-type': 'application/json' }, body: sent })
    expect(res.status).toBe(200)
    expect(t.up.requests.map((r) => r.key)).toEqual([A1, A2])
    for (const seen of t.up.requests) expect(seen.body.equals(Buffer.from(sent))).toBe(true)
  })

  it('replays a multipart body with binary bytes unchanged', async () => {
    t.up.queue(anthropic429)
    const base = await start()
    const boundary = 'aibridge-test-boundary'
    const audio = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 256))
    const sent = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.wav"\r\ncontent-type: audio/wav\r\n\r\n`),
      audio,
      Buffer.from(`\r\n--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--${boundary}--\r\n`),
    ])
    const contentType = `multipart/form-data; boundary=${boundary}`
    const res = await raw(base, `${mount}/openai/v1/audio/transcriptions`, { headers: { 'content-type': contentType }, body: sent })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(2)
    for (const seen of t.up.requests) {
      expect(seen.body.equals(sent)).toBe(true)
      expect(seen.headers['content-type']).toBe(contentType)
    }
  })

  it('replays a gzip-encoded body as sent, Content-Encoding included', async () => {
    t.up.queue(anthropic429)
    const base = await start()
    const sent = gzipSync(JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'z'.repeat(2000) }] }))
    const res = await raw(base, `${mount}/anthropic/v1/messages`, { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: sent })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(2)
    for (const seen of t.up.requests) {
      expect(seen.body.equals(sent)).toBe(true)
      expect(seen.headers['content-encoding']).toBe('gzip')
    }
  })

  it('serves every method, a body-less GET included', async () => {
    const base = await start()
    const get = await raw(base, `${mount}/openai/v1/models`)
    const head = await raw(base, `${mount}/openai/v1/models`, { method: 'HEAD' })
    const del = await raw(base, `${mount}/openai/v1/files/file-1`, { method: 'DELETE' })
    expect([get.status, head.status, del.status]).toEqual([200, 200, 200])
    expect(get.json()).toEqual({ ok: true })
    expect(t.up.requests.map((r) => [r.method, r.url, r.key])).toEqual([
      ['GET', '/v1/models', O1],
      ['HEAD', '/v1/models', O1],
      ['DELETE', '/v1/files/file-1', O1],
    ])
  })

  it('refuses a hostile path with a provider-shaped 400 and no upstream call', async () => {
    const base = await start()
    const res = await raw(base, `${mount}/openai/v1/%2e%2e/admin`)
    expect(res.status).toBe(400)
    expect(res.json().error.type).toBe('invalid_request_error')
    expect(t.up.requests).toHaveLength(0)
  })
})

it('takes the prefix of the context it is registered in into account', async () => {
  const app = t.host(Fastify())
  await app.register(
    async (v2) => {
      await v2.register(aibridge, { prefix: '/ai/', providers: providers(t.up) })
    },
    { prefix: '/v2' },
  )
  const base = await listen(app)
  const res = await raw(base, '/v2/ai/openai/v1/models?limit=1')
  expect(res.status).toBe(200)
  expect(t.up.requests.map((r) => r.url)).toEqual(['/v1/models?limit=1'])
})
