import * as zlib from 'node:zlib'
import { describe, expect, test } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { json } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('hd1')

describe('request headers', () => {
  test('hop-by-hop, Connection-named, Expect, Host, Cookie, Forwarded and X-Forwarded-* are not forwarded', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const r = await raw(b.url, '/openai/v1/chat/completions', {
      method: 'POST',
      body: '{"model":"m"}',
      headers: {
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop-secret',
        'x-hop-secret': 'must-not-pass',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        trailer: 'x-checksum',
        'proxy-authorization': 'Basic cHJveHk6cHJveHk=',
        expect: '100-continue',
        cookie: 'session=abc',
        forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43',
        'x-forwarded-for': '192.0.2.60',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        'x-real-ip': '192.0.2.60',
        'x-custom': 'kept',
        'user-agent': 'test-agent/1.0',
        accept: 'application/json',
      },
    })
    expect(r.status).toBe(200)
    const seen = h.up.requests[0]!.headers
    for (const name of [
      'x-hop-secret',
      'keep-alive',
      'te',
      'trailer',
      'proxy-authorization',
      'expect',
      'cookie',
      'forwarded',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
    ]) {
      expect(seen[name], name).toBeUndefined()
    }
    expect(seen.connection ?? 'keep-alive').not.toMatch(/x-hop-secret/)
    expect(seen.host).toBe(new URL(h.up.url).host)
    expect(seen['x-custom']).toBe('kept')
    expect(seen['user-agent']).toBe('test-agent/1.0')
    expect(seen.accept).toBe('application/json')
    expect(seen['content-type']).toBe('application/json')
    expect(seen['content-length']).toBe('13')
  })

  test('provider headers and request ids pass to the upstream', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url }, openai: { keys: [K1], baseURL: h.up.url } } })
    await raw(b.url, '/anthropic/v1/messages', {
      method: 'POST',
      body: '{}',
      headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31,output-128k-2025-02-19', 'x-request-id': 'client-req-1' },
    })
    await raw(b.url, '/openai/v1/chat/completions', {
      method: 'POST',
      body: '{}',
      headers: { 'openai-organization': 'org-123', 'openai-project': 'proj_456', 'x-request-id': 'client-req-2', 'x-stainless-retry-count': '0' },
    })
    const [a, o] = h.up.requests
    expect(a!.headers).toMatchObject({ 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31,output-128k-2025-02-19', 'x-request-id': 'client-req-1' })
    expect(o!.headers).toMatchObject({ 'openai-organization': 'org-123', 'openai-project': 'proj_456', 'x-request-id': 'client-req-2', 'x-stainless-retry-count': '0' })
  })
})

describe('response headers', () => {
  test('Set-Cookie, hop-by-hop and Connection-named headers from upstream are not returned; provider headers and ids are', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(
      json(
        200,
        { ok: true },
        {
          'set-cookie': ['__cf_bm=abc; path=/; HttpOnly', 'other=1'],
          connection: 'keep-alive, x-upstream-hop',
          'x-upstream-hop': 'internal',
          'keep-alive': 'timeout=5',
          'alt-svc': 'h3=":443"',
          'x-request-id': 'req_abc123',
          'request-id': 'req_def456',
          'openai-organization': 'org-123',
          'openai-processing-ms': '321',
          'anthropic-ratelimit-requests-remaining': '49',
          'x-ratelimit-remaining-requests': '499',
        },
      ),
    )
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })
    expect(r.status).toBe(200)
    expect(r.headers['set-cookie']).toBeUndefined()
    expect(r.headers['x-upstream-hop']).toBeUndefined()
    expect(r.headers['alt-svc']).toBeUndefined()
    expect(r.headers['keep-alive'] ?? '').not.toBe('timeout=5')
    expect(r.headers).toMatchObject({
      'x-request-id': 'req_abc123',
      'request-id': 'req_def456',
      'openai-organization': 'org-123',
      'openai-processing-ms': '321',
      'anthropic-ratelimit-requests-remaining': '49',
      'x-ratelimit-remaining-requests': '499',
      'content-type': 'application/json',
    })
  })

  test('anthropic request id and rate-limit headers pass back', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(json(200, {}, { 'request-id': 'req_011CU', 'anthropic-organization-id': 'org-uuid', 'anthropic-ratelimit-tokens-remaining': '9000' }))
    const r = await raw(b.url, '/anthropic/v1/messages', { method: 'POST', body: '{}' })
    expect(r.headers).toMatchObject({ 'request-id': 'req_011CU', 'anthropic-organization-id': 'org-uuid', 'anthropic-ratelimit-tokens-remaining': '9000' })
  })

  test('a compressed upstream body passes through still compressed, with its encoding', async () => {
    const { gzipSync, gunzipSync } = await import('node:zlib')
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const payload = gzipSync(JSON.stringify({ hello: 'world' }))
    h.up.handle((_s, res) => void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(payload))
    const r = await raw(b.url, '/openai/v1/x', { headers: { 'accept-encoding': 'gzip' } })
    expect(r.headers['content-encoding']).toBe('gzip')
    expect(h.up.requests[0]!.headers['accept-encoding']).toBe('gzip')
    expect(JSON.parse(gunzipSync(r.body).toString())).toEqual({ hello: 'world' })
  })
})

describe('Accept-Encoding on pool requests names only codings aibridge can read an error body in', () => {
  // zstd is readable where node:zlib has it (Node 22.15+).
  const zstd = 'zstdDecompressSync' in zlib
  for (const [sent, expected] of [
    ['gzip, deflate, br, zstd', zstd ? 'gzip, deflate, br, zstd' : 'gzip, deflate, br'],
    ['zstd;q=1.0, br;q=0.9, gzip;q=0.5', zstd ? 'zstd;q=1.0, br;q=0.9, gzip;q=0.5' : 'br;q=0.9, gzip;q=0.5'],
    ['gzip, *', 'gzip'],
    ['compress, exi', 'identity'],
    ['identity', 'identity'],
  ] as const) {
    test(`'${sent}' goes upstream as '${expected}'`, async () => {
      const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
      await raw(b.url, '/openai/v1/x', { headers: { 'accept-encoding': sent } })
      expect(h.up.requests[0]!.headers['accept-encoding']).toBe(expected)
    })
  }

  test('absent stays absent; a BYOK request keeps its own exactly (its answer is never classified)', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    await raw(b.url, '/openai/v1/x', { headers: {} })
    await raw(b.url, '/openai/v1/x', { headers: { 'accept-encoding': 'zstd, *', authorization: 'Bearer sk-client-own-credential-1234' } })
    expect(h.up.requests[0]!.headers['accept-encoding']).toBeUndefined()
    expect(h.up.requests[1]!.headers['accept-encoding']).toBe('zstd, *')
  })
})
