import { request } from 'node:http'
import { describe, expect, test } from 'vitest'
import { raw, type RawResponse } from '../../../test/support/http.js'
import { DEFAULT_BODY_LIMIT } from '../src/index.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('bl1')

/** Sends a body in chunks without Content-Length (chunked), collecting whatever answer comes back. */
function chunked(base: string, path: string, size: number): Promise<RawResponse> {
  const { port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString(), json: () => JSON.parse(body.toString()) })
      })
    })
    // The bridge may answer and close before the whole body is written.
    req.on('error', () => {})
    req.on('close', () => reject(new Error('closed without a response')))
    const piece = Buffer.alloc(1024, 'a')
    let sent = 0
    const pump = (): void => {
      while (sent < size) {
        const n = Math.min(piece.length, size - sent)
        sent += n
        if (!req.write(piece.subarray(0, n))) return void req.once('drain', pump)
      }
      req.end()
    }
    pump()
  })
}

describe('bodyLimit', () => {
  test('the default is 32 MiB: a larger declared body gets 413 without an upstream call', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    expect(DEFAULT_BODY_LIMIT).toBe(33_554_432)
    // The body is never sent: the declared length alone is refused.
    const { port } = new URL(b.url)
    const r = await new Promise<RawResponse>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/openai/v1/chat/completions', method: 'POST', agent: false, headers: { 'content-length': DEFAULT_BODY_LIMIT + 1 } },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const body = Buffer.concat(chunks)
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString(), json: () => JSON.parse(body.toString()) })
          })
        },
      )
      req.on('error', reject)
      req.flushHeaders()
    })
    expect(r.status).toBe(413)
    expect(r.json().error.code).toBe('request_too_large')
    expect(h.up.requests).toHaveLength(0)
  })

  test('openai: a declared length over the limit gets an OpenAI-shaped 413, no upstream call', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, bodyLimit: 1024 })
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: Buffer.alloc(1025, 'x') })
    expect(r.status).toBe(413)
    expect(r.json()).toEqual({
      error: { message: expect.stringContaining('larger than the 1024 byte limit'), type: 'invalid_request_error', param: null, code: 'request_too_large' },
    })
    expect(h.up.requests).toHaveLength(0)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'rejected', status: 413, attempts: 0, keysTried: [] })
  })

  test('anthropic: an Anthropic-shaped 413', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } }, bodyLimit: 1024 })
    const r = await raw(b.url, '/anthropic/v1/messages', { method: 'POST', body: Buffer.alloc(5000, 'x') })
    expect(r.status).toBe(413)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'request_too_large', message: expect.stringContaining('1024 byte limit') } })
    expect(h.up.requests).toHaveLength(0)
  })

  test('a chunked body that grows past the limit gets 413, no upstream call', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, bodyLimit: 4096 })
    const r = await chunked(b.url, '/openai/v1/chat/completions', 64 * 1024)
    expect(r.status).toBe(413)
    expect(h.up.requests).toHaveLength(0)
  })

  test('a body of exactly the limit goes upstream whole', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, bodyLimit: 4096 })
    const body = Buffer.alloc(4096, 'q')
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body })
    expect(r.status).toBe(200)
    expect(h.up.requests[0]!.body.equals(body)).toBe(true)
    const c = await chunked(b.url, '/openai/v1/chat/completions', 4096)
    expect(c.status).toBe(200)
    expect(h.up.requests[1]!.body.length).toBe(4096)
  })
})
