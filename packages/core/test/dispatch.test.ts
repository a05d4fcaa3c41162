import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import { createGunzip, gzipSync, gunzipSync } from 'node:zlib'
import { describe, expect, test } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { rateLimited } from '../../../test/support/upstream.js'
import type { Bridge } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('dp1')
const K2 = testKey('dp2')

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/**
 * A host that mounts the bridge at /ai the way a framework adapter does: strips the mount prefix,
 * optionally reads and parses the body first, calls dispatch and sends what it returns.
 */
function adapter(parse: (raw: Buffer, req: IncomingMessage) => unknown | undefined) {
  return (bridge: Bridge) => async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/'
    if (!url.startsWith('/ai/')) return void res.writeHead(404).end('host 404')
    let body: unknown
    if (req.headers['x-host-reads'] === '1') body = parse(await readAll(req), req)
    else if (req.headers['x-host-passes-body'] === '1') body = 'this must be ignored: the stream is untouched'
    const response = await bridge.dispatch(req, res, { path: url.slice(3), body })
    if (!response) return void res.writeHead(200).end('host fallback')
    res.writeHead(response.status, response.headers)
    if (Buffer.isBuffer(response.body)) res.end(response.body)
    else pipeline(response.body, res, () => {})
  }
}

const asBuffer = adapter((b) => b)
const asString = adapter((b) => b.toString('utf8'))
const asJson = adapter((b, req) => {
  const bytes = req.headers['content-encoding'] === 'gzip' ? gunzipSync(b) : b
  return JSON.parse(bytes.toString('utf8'))
})
const asForm = adapter((b) => Object.fromEntries(new URLSearchParams(b.toString('utf8'))))
// What `express.urlencoded({ extended: true })` hands over for `a[b]=1&a[c]=2&list=x&list=y&deep[0][k]=v`.
const asNestedForm = adapter(() => ({ a: { b: '1', c: '2' }, list: ['x', 'y'], deep: [{ k: 'v' }] }))
// What `express.json()` hands over for an empty body.
const asEmptyJson = adapter(() => ({}))
// A host hook that decodes the body and hands the decoded stream over, unread.
const asDecodingStream = (bridge: Bridge) => async (req: IncomingMessage, res: ServerResponse) => {
  const decoded = req.pipe(createGunzip())
  const response = await bridge.dispatch(req, res, { path: (req.url ?? '/').slice(3), body: decoded })
  if (!response) return void res.writeHead(404).end()
  res.writeHead(response.status, response.headers)
  if (Buffer.isBuffer(response.body)) res.end(response.body)
  else pipeline(response.body, res, () => {})
}

describe('dispatch: explicit path and an already-read body', () => {
  test('the mount prefix is removed by the adapter; the rest routes as usual', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: `${h.up.url}/base` } } }, asBuffer)
    const r = await raw(b.url, '/ai/openai/v1/models?limit=2')
    expect(r.status).toBe(200)
    expect(h.up.requests[0]!.url).toBe('/base/v1/models?limit=2')
    const [record] = await b.waitForRecords(1)
    expect(record!.path).toBe('/v1/models')
  })

  test('unknown provider: dispatch returns undefined and the host carries on', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asBuffer)
    const r = await raw(b.url, '/ai/unknown/v1/models')
    expect(r.text).toBe('host fallback')
    expect(h.up.requests).toHaveLength(0)
  })

  test('a raw Buffer the host read is sent byte for byte, and replayed on failover', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } }, asBuffer)
    h.up.queue(rateLimited({ 'retry-after': '5' }))
    const body = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13])
    const r = await raw(b.url, '/ai/openai/v1/files', { method: 'POST', body, headers: { 'x-host-reads': '1', 'content-type': 'application/octet-stream' } })
    expect(r.status).toBe(200)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    for (const s of h.up.requests) {
      expect(s.body.equals(body)).toBe(true)
      expect(s.headers['content-length']).toBe(String(body.length))
    }
  })

  test('a string body is sent as UTF-8', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asString)
    const body = '{"input":"héllo wörld ✓"}'
    await raw(b.url, '/ai/openai/v1/embeddings', { method: 'POST', body, headers: { 'x-host-reads': '1', 'content-type': 'application/json' } })
    expect(h.up.requests[0]!.body.toString('utf8')).toBe(body)
    expect(h.up.requests[0]!.headers['content-length']).toBe(String(Buffer.byteLength(body)))
  })

  test('a parsed JSON object is re-serialized', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } } }, asJson)
    const body = { model: 'claude', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }
    await raw(b.url, '/ai/anthropic/v1/messages', { method: 'POST', body: JSON.stringify(body, null, 2), headers: { 'x-host-reads': '1', 'content-type': 'application/json' } })
    expect(JSON.parse(h.up.requests[0]!.body.toString('utf8'))).toEqual(body)
    expect(h.up.requests[0]!.body.toString('utf8')).toBe(JSON.stringify(body))
  })

  test('a body the host decompressed goes upstream without its old Content-Encoding', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asJson)
    const body = { input: 'compressed by the client' }
    await raw(b.url, '/ai/openai/v1/embeddings', {
      method: 'POST',
      body: gzipSync(JSON.stringify(body)),
      headers: { 'x-host-reads': '1', 'content-type': 'application/json', 'content-encoding': 'gzip' },
    })
    const seen = h.up.requests[0]!
    expect(seen.headers['content-encoding']).toBeUndefined()
    expect(JSON.parse(seen.body.toString('utf8'))).toEqual(body)
  })

  test('a parsed URL-encoded form is re-encoded as a form', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asForm)
    await raw(b.url, '/ai/openai/v1/x', { method: 'POST', body: 'a=1&b=two+words', headers: { 'x-host-reads': '1', 'content-type': 'application/x-www-form-urlencoded' } })
    expect(h.up.requests[0]!.body.toString('utf8')).toBe('a=1&b=two+words')
  })

  test('a body option with an untouched stream is ignored: the stream is read', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asBuffer)
    await raw(b.url, '/ai/openai/v1/x', { method: 'POST', body: 'the real body', headers: { 'x-host-passes-body': '1' } })
    expect(h.up.requests[0]!.body.toString()).toBe('the real body')
  })

  test('a host-read body over the limit gets 413', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, bodyLimit: 100 }, asBuffer)
    // The host read it chunked (no Content-Length to refuse early).
    const r = await raw(b.url, '/ai/openai/v1/x', { method: 'POST', body: Buffer.alloc(500, 'x'), headers: { 'x-host-reads': '1', 'transfer-encoding': 'chunked' } })
    expect(r.status).toBe(413)
    expect(h.up.requests).toHaveLength(0)
  })

  test('a nested form is re-encoded with bracket keys, not as [object Object]', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asNestedForm)
    await raw(b.url, '/ai/openai/v1/x', { method: 'POST', body: 'ignored', headers: { 'x-host-reads': '1', 'content-type': 'application/x-www-form-urlencoded' } })
    expect(decodeURIComponent(h.up.requests[0]!.body.toString('utf8'))).toBe('a[b]=1&a[c]=2&list=x&list=y&deep[0][k]=v')
  })

  test('an empty body a JSON parser turned into {} goes upstream empty', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asEmptyJson)
    await raw(b.url, '/ai/openai/v1/x', { method: 'POST', body: '', headers: { 'x-host-reads': '1', 'content-type': 'application/json', 'content-length': '0' } })
    expect(h.up.requests[0]!.body.length).toBe(0)
    expect(h.up.requests[0]!.headers['content-length']).toBe('0')
  })

  for (const [what, host] of [
    ['its fields', asNestedForm],
    ['its text', asString],
  ] as const) {
    test(`a multipart upload a host parser consumed, keeping ${what}: 500 that says why, logged, no upstream call`, async () => {
      const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, host)
      const r = await raw(b.url, '/ai/openai/v1/files', {
        method: 'POST',
        body: '--xyz\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\n\r\n\u0000\u00ff\r\n--xyz--\r\n',
        headers: { 'x-host-reads': '1', 'content-type': 'multipart/form-data; boundary=xyz' },
      })
      expect(r.status).toBe(500)
      const message = 'aibridge: a host body parser consumed this multipart/form-data request and kept no raw bytes, so it cannot be forwarded: mount aibridge before that parser, or have the parser keep the raw body'
      expect(r.json()).toEqual({ error: { message, type: 'server_error', param: null, code: 'internal_error' } })
      expect(h.up.requests).toHaveLength(0)
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ outcome: 'rejected', status: 500, attempts: 0 })
      expect(b.logs.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 50)?.msg).toBe(message)
    })
  }

  test('a multipart upload kept as raw bytes by the host goes upstream byte for byte', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } }, asBuffer)
    const body = Buffer.concat([Buffer.from('--xyz\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'), Buffer.from([0, 255, 128]), Buffer.from('\r\n--xyz--\r\n')])
    await raw(b.url, '/ai/openai/v1/files', { method: 'POST', body, headers: { 'x-host-reads': '1', 'content-type': 'multipart/form-data; boundary=xyz' } })
    expect(h.up.requests[0]!.body.equals(body)).toBe(true)
  })

  test('a stream the host put in front of the request is read whole, within the limit, and replayed', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, bodyLimit: 64 * 1024 }, asDecodingStream)
    h.up.queue(rateLimited({ 'retry-after': '5' }))
    const text = JSON.stringify({ input: 'decoded by the host hook' })
    const r = await raw(b.url, '/ai/openai/v1/embeddings', { method: 'POST', body: gzipSync(text), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    expect(r.status).toBe(200)
    expect(h.up.requests.map((s) => s.body.toString('utf8'))).toEqual([text, text])
    expect(h.up.requests[1]!.headers['content-encoding']).toBeUndefined()
    // 10 KiB on the wire, 1 MiB decoded: refused by what the bridge read, not what was sent.
    const big = await raw(b.url, '/ai/openai/v1/embeddings', { method: 'POST', body: gzipSync(Buffer.alloc(1024 * 1024, 0x20)), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    expect(big.status).toBe(413)
    expect(h.up.requests).toHaveLength(2)
  })
})
