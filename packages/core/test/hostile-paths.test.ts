import { describe, expect, test } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('hp1')

// Sent byte for byte over a raw socket request: fetch and URL would normalize most of these away.
const HOSTILE = [
  '/openai/../admin',
  '/openai/v1/../../admin',
  '/openai/v1/..',
  '/openai/./v1/models',
  '/openai/v1/.',
  '/openai/%2e%2e/admin',
  '/openai/%2E%2E/admin',
  '/openai/.%2e/admin',
  '/openai/%2e./admin',
  '/openai/v1%2f..%2fadmin',
  '/openai/v1%2Fmodels',
  '/openai/v1%5c..%5cadmin',
  '/openai/v1/..%5cadmin',
  '/openai/v1\\..\\admin',
  '/openai/v1\\models',
  '/openai//evil.example/v1/models',
  '/openai//evil.example',
  '/openai/v1//models',
  '/openai/v1/..;/admin',
  '/openai/%252e%252e/admin',
  '/openai/v1/models%00',
  '/openai/v1/models%00.json',
  // Encoded control characters: header injection at a decoding upstream.
  '/openai/v1/a%0d%0aX-Injected:%201',
  '/openai/v1/a%0A',
  '/openai/v1/%09models',
  '/openai/v1/models%1f',
  '/openai/v1/models%7F',
  // Found by path-stays-under-base.property.test.ts: traversal once a server decodes and folds
  // compatibility characters (NFKC), reads overlong UTF-8 or IIS %u escapes, or cuts ;parameters.
  '/openai/v1/%e2%80%a5/admin',
  '/openai/%ef%bc%8e%ef%bc%8e/admin',
  '/openai/v1%ef%bc%8f..%ef%bc%8fadmin',
  '/openai/v1/%ef%bc%bcadmin',
  '/openai/%c0%ae%c0%ae/admin',
  '/openai/%e0%80%ae%e0%80%ae/admin',
  '/openai/%u002e%u002e/admin',
  '/openai/v1/models%',
  '/openai/v1/.%3b/admin',
  '/openai/;/evil.example/v1',
  '/openai/v1/%ef%bc%85%32%65%ef%bc%85%32%65/admin',
]

describe('hostile paths get 400 and make no upstream call', () => {
  for (const path of HOSTILE) {
    test(JSON.stringify(path), async () => {
      const b = await h.start({ providers: { openai: { keys: [K1], baseURL: `${h.up.url}/base` } } })
      const r = await raw(b.url, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      expect(r.status).toBe(400)
      expect(r.json()).toEqual({ error: { message: expect.stringMatching(/^aibridge: invalid path/), type: 'invalid_request_error', param: null, code: 'invalid_request' } })
      expect(h.up.requests).toHaveLength(0)
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ outcome: 'rejected', status: 400, attempts: 0, keysTried: [] })
    })
  }

  test('anthropic-shaped 400', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } } })
    const r = await raw(b.url, '/anthropic/v1/%2e%2e/%2e%2e/admin', { method: 'POST', body: '{}' })
    expect(r.status).toBe(400)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('invalid path') } })
    expect(h.up.requests).toHaveLength(0)
  })

  test('the same path checks apply to an explicit dispatch path', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, (bridge) => (req, res) => {
      void bridge.handle(req, res, { path: (req.url ?? '').replace(/^\/mount/, '') })
    })
    const r = await raw(b.url, '/mount/openai/v1/%2e%2e/admin')
    expect(r.status).toBe(400)
    expect(h.up.requests).toHaveLength(0)
  })

  test('a path that cannot name a provider (//host) never reaches an upstream', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    for (const path of ['//evil.example/v1/models', '//openai/v1/models', 'http://evil.example//openai/v1/models']) {
      const r = await raw(b.url, path)
      expect(r.status).toBe(404)
    }
    expect(h.up.requests).toHaveLength(0)
  })

  test('an absolute-form target never chooses the upstream: its host is ignored, the base URL is used', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const r = await raw(b.url, 'http://evil.example/openai/v1/models')
    expect(r.status).toBe(200)
    expect(h.up.requests.map((s) => [s.url, s.headers.host])).toEqual([['/v1/models', new URL(h.up.url).host]])
  })
})

describe('ordinary paths are untouched', () => {
  test('dots inside names, encoded characters in the query, and a trailing slash pass verbatim', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: `${h.up.url}/base` } } })
    const paths = [
      '/openai/v1/models/gpt-4.1-mini',
      '/openai/v1/files/file-abc.jsonl/content',
      '/openai/v1/models/',
      '/openai/v1/models/..hidden',
      '/openai/v1/search?q=a%2Fb%2e%2e&after=..&x=1+2',
      '/openai/v1/models/ft%3Agpt-4o%3Aorg',
    ]
    for (const path of paths) {
      const r = await raw(b.url, path)
      expect(r.status, path).toBe(200)
    }
    expect(h.up.requests.map((s) => s.url)).toEqual(paths.map((p) => p.replace(/^\/openai/, '/base')))
  })
})
