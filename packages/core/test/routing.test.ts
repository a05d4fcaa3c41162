import { describe, expect, test } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('rt1')

describe('/{provider}/{rest}?{query} goes to {baseURL}/{rest}?{query}', () => {
  test('the base URL path prefix is kept and the query passes verbatim', async () => {
    const b = await h.start({
      providers: {
        openai: { keys: [K1], baseURL: h.up.url },
        groq: { type: 'openai', baseURL: `${h.up.url}/openai/v1`, keys: [K1] },
        slash: { type: 'anthropic', baseURL: `${h.up.url}/prefix/`, keys: [K1] },
      },
    })
    await raw(b.url, '/openai/v1/chat/completions')
    await raw(b.url, '/groq/chat/completions?a=1&b=%2F%20x&c&d=%C3%A9&a=2&e=a+b&f=%zz')
    await raw(b.url, '/slash/v1/messages?beta=true')
    await raw(b.url, '/groq')
    await raw(b.url, '/groq?x=1')
    await raw(b.url, '/openai/')
    await raw(b.url, '/openai/v1/models?')
    await raw(b.url, '/openai?')
    expect(h.up.requests.map((s) => s.url)).toEqual([
      '/v1/chat/completions',
      '/openai/v1/chat/completions?a=1&b=%2F%20x&c&d=%C3%A9&a=2&e=a+b&f=%zz',
      '/prefix/v1/messages?beta=true',
      '/openai/v1',
      '/openai/v1?x=1',
      '/',
      '/v1/models?',
      '/?',
    ])
  })

  test('an absolute-form target (RFC 9112 section 3.2.2) routes by its path; its host is ignored', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const ok = await raw(b.url, 'http://elsewhere.example:8080/openai/v1/models?limit=2')
    await raw(b.url, 'HTTP://elsewhere.example/openai?x=1')
    const hostile = await raw(b.url, 'http://elsewhere.example/openai/v1/../../admin')
    const none = await raw(b.url, 'http://elsewhere.example/nope/v1')
    expect(ok.status).toBe(200)
    expect(hostile.status).toBe(400)
    expect(none.status).toBe(404)
    expect(h.up.requests.map((s) => [s.url, s.headers.host])).toEqual([
      ['/v1/models?limit=2', new URL(h.up.url).host],
      ['/?x=1', new URL(h.up.url).host],
    ])
    const records = await b.waitForRecords(3)
    expect(records.map((r) => r.path)).toEqual(['/v1/models', '/', '/v1/../../admin'])
  })

  test('methods and bodies pass: GET without a body, DELETE, POST', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    await raw(b.url, '/openai/v1/models')
    await raw(b.url, '/openai/v1/files/file-1', { method: 'DELETE' })
    await raw(b.url, '/openai/v1/embeddings', { method: 'POST', body: '{"input":"x"}', headers: { 'content-type': 'application/json' } })
    expect(h.up.requests.map((s) => [s.method, s.url, s.body.toString()])).toEqual([
      ['GET', '/v1/models', ''],
      ['DELETE', '/v1/files/file-1', ''],
      ['POST', '/v1/embeddings', '{"input":"x"}'],
    ])
    expect(h.up.requests[0]!.headers['content-length']).toBeUndefined()
  })
})

describe('a path that names no configured provider', () => {
  test('without next: 404 JSON, no upstream call', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    for (const path of ['/gemini/v1/models', '/', '/favicon.ico', '/OpenAI/v1/models']) {
      const r = await raw(b.url, path)
      expect(r.status, path).toBe(404)
      expect(r.headers['content-type']).toMatch(/^application\/json/)
      expect(r.json().error.type).toBe('not_found_error')
    }
    expect(h.up.requests).toHaveLength(0)
  })

  test('with next (handle(req, res, next)): the host handles it', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, (bridge) => (req, res) => {
      void bridge.handle(req, res, () => {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`host saw ${req.url}`)
      })
    })
    const r = await raw(b.url, '/health?deep=1')
    expect(r.status).toBe(200)
    expect(r.text).toBe('host saw /health?deep=1')
    const served = await raw(b.url, '/openai/v1/models')
    expect(served.json()).toEqual({ ok: true })
  })

  test('with next given in the options object', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, (bridge) => (req, res) => {
      void bridge.handle(req, res, { next: () => res.writeHead(204).end() })
    })
    expect((await raw(b.url, '/other')).status).toBe(204)
  })
})
