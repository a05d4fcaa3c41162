import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { hang, reset } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('te1')
const K2 = testKey('te2')

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address() as AddressInfo
  await new Promise((r) => s.close(r))
  return port
}

describe('an unreachable upstream: 502 provider-shaped, no key marked', () => {
  test('openai', async () => {
    const store = recordingStore()
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: `http://127.0.0.1:${await closedPort()}` } }, store })
    const r = await post(b.url, '/openai/v1/chat/completions', {})
    expect(r.status).toBe(502)
    expect(r.json()).toEqual({ error: { message: expect.stringContaining('could not reach the provider'), type: 'server_error', param: null, code: 'bad_gateway' } })
    expect(store.marks).toHaveLength(0)
    expect(b.bridge.keyStates().openai!.every((k) => k.state === 'valid')).toBe(true)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'transport_error', status: 502, attempts: 1 })
  })

  test('anthropic', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: `http://127.0.0.1:${await closedPort()}` } } })
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(502)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('could not reach the provider') } })
  })
})

describe('an upstream that resets the connection before its headers: 502, no key marked', () => {
  test('openai', async () => {
    const store = recordingStore()
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } }, store })
    h.up.handle(reset)
    const r = await post(b.url, '/openai/v1/chat/completions', {})
    expect(r.status).toBe(502)
    expect(r.json().error.type).toBe('server_error')
    expect(store.marks).toHaveLength(0)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1])
    const [record] = await b.waitForRecords(1)
    expect(record!.outcome).toBe('transport_error')
  })

  test('anthropic', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(reset)
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(502)
    expect(r.json().type).toBe('error')
    expect(r.json().error.type).toBe('api_error')
  })
})

describe('no headers in time: 504 (timeouts.headersMs)', () => {
  for (const provider of ['openai', 'anthropic'] as const) {
    test(provider, async () => {
      const store = recordingStore()
      const b = await h.start({ providers: { [provider]: { keys: [K1, K2], baseURL: h.up.url } }, store, timeouts: { headersMs: 150 } })
      h.up.handle(hang)
      const started = Date.now()
      const r = await post(b.url, provider === 'openai' ? '/openai/v1/chat/completions' : '/anthropic/v1/messages', {})
      expect(r.status).toBe(504)
      // Exact to the timer, not to undici's one-second clock.
      expect(Date.now() - started).toBeLessThan(900)
      const body = r.json()
      if (provider === 'openai') expect(body.error).toMatchObject({ type: 'server_error', code: 'timeout', message: expect.stringContaining('150 ms') })
      else expect(body).toEqual({ type: 'error', error: { type: 'timeout_error', message: expect.stringContaining('150 ms') } })
      expect(store.marks).toHaveLength(0)
      expect(h.up.requests).toHaveLength(1)
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ outcome: 'timeout', status: 504 })
      // The abandoned upstream exchange is closed, not left hanging.
      const closed = await Promise.race([h.up.requests[0]!.closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))])
      expect(closed).toBe(true)
    })
  }
})

test('response headers larger than undici accepts: 502 that says so, no key marked', async () => {
  const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
  h.up.handle((_s, res) => void res.writeHead(200, { 'x-huge': 'h'.repeat(20 * 1024) }).end('{}'))
  const r = await post(b.url, '/openai/v1/models', {})
  expect(r.status).toBe(502)
  expect(r.json().error.message).toBe("aibridge: the provider's response headers were larger than aibridge accepts (UND_ERR_HEADERS_OVERFLOW)")
  expect(b.bridge.keyStates().openai!.map((k) => k.state)).toEqual(['valid', 'valid'])
})

/** A raw TCP upstream that answers every request with `bytes` and closes. */
async function rawUpstream(bytes: string): Promise<string> {
  const server = createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => socket.end(bytes))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  h.host({ close: () => new Promise<void>((r) => server.close(() => r())) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('issue 15: an answer that is not HTTP: 502 saying the provider sent an invalid response, no key marked', () => {
  const answers: Array<[string, string]> = [
    ['a status below 100 (HTTP/1.1 099)', 'HTTP/1.1 099 Odd\r\ncontent-length: 2\r\n\r\n{}'],
    ['status 000', 'HTTP/1.1 000 Odd\r\ncontent-length: 2\r\n\r\n{}'],
    ['a status below 100 without a body', 'HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n'],
    ['a four-digit status', 'HTTP/1.1 1000 Odd\r\ncontent-length: 2\r\n\r\n{}'],
    ['no status line at all', 'hello\r\n\r\n'],
    ['a malformed header', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n{}'],
  ]
  for (const [what, bytes] of answers) {
    test(what, async () => {
      const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: await rawUpstream(bytes) } } })
      const r = await post(b.url, '/openai/v1/chat/completions', {})
      expect(r.status).toBe(502)
      expect(r.json()).toEqual({ error: { message: expect.stringMatching(/^aibridge: the provider sent an invalid response\b/), type: 'server_error', param: null, code: 'bad_gateway' } })
      expect(r.text).not.toContain('ERR_ASSERTION')
      expect(r.text).not.toContain('could not reach')
      expect(b.bridge.keyStates().openai!.map((k) => k.state)).toEqual(['valid', 'valid'])
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ outcome: 'transport_error', status: 502, attempts: 1 })
      // The operator's log says the same.
      expect(b.logs.join('\n')).toContain('aibridge: the provider sent an invalid response')
      expect(b.logs.join('\n')).not.toContain('could not reach')
    })
  }
})
