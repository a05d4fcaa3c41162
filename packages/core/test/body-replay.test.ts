import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { expect, test } from 'vitest'
import { post, raw } from '../../../test/support/http.js'
import { byKey, json, rateLimited } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('br1')
const K2 = testKey('br2')
const K3 = testKey('br3')

test('a 1 MiB body is replayed byte for byte on the next key', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '10' }), [K2]: json(200, { served: 'K2' }) }))
  // Random bytes: not valid UTF-8 or JSON, so any re-encoding would show.
  const body = randomBytes(1024 * 1024)
  const r = await raw(b.url, '/openai/v1/files', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body })
  expect(r.status).toBe(200)
  expect(r.json()).toEqual({ served: 'K2' })
  const [first, second] = h.up.requests
  expect(second!.key).toBe(K2)
  expect(second!.body.length).toBe(body.length)
  expect(second!.body.equals(body)).toBe(true)
  expect(first!.body.equals(body)).toBe(true)
  expect(second!.headers['content-length']).toBe(String(body.length))
  expect(second!.headers['content-type']).toBe('application/octet-stream')
})

test('a chunked upload is replayed whole on every key', async () => {
  const b = await h.start({ providers: { anthropic: { keys: [K1, K2, K3], baseURL: h.up.url } } })
  h.up.handle(byKey({ [K1]: rateLimited({}, 'anthropic'), [K2]: json(401, { type: 'error', error: { type: 'authentication_error', message: 'x' } }), [K3]: json(200, {}) }))
  const body = randomBytes(300_000)
  const { port } = new URL(b.url)
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/anthropic/v1/messages', method: 'POST', agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    for (let i = 0; i < body.length; i += 7_777) req.write(body.subarray(i, i + 7_777))
    req.end()
  })
  expect(status).toBe(200)
  expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3])
  for (const s of h.up.requests) expect(s.body.equals(body)).toBe(true)
})

test('the method, path and query are replayed too', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  h.up.queue(rateLimited({ 'retry-after': '10' }))
  await post(b.url, '/openai/v1/responses?include=reasoning.encrypted_content&x=%20y', { input: 'héllo' })
  const [first, second] = h.up.requests
  expect(second).toMatchObject({ method: 'POST', url: '/v1/responses?include=reasoning.encrypted_content&x=%20y' })
  expect(second!.body.toString('utf8')).toBe(JSON.stringify({ input: 'héllo' }))
  expect(second!.body.equals(first!.body)).toBe(true)
})
