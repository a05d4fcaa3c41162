import { createServer, type AddressInfo } from 'node:net'
import { expect, test } from 'vitest'
import { post } from '../../../test/support/http.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('if1')

/** A raw TCP upstream that answers every request with `parts`, 50 ms apart, and closes (unless the last is ''). */
async function rawUpstream(...parts: string[]): Promise<string> {
  const server = createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50))
        socket.write(part)
      }
      // An empty last part holds the connection open (until the bridge gives up on it).
      if (parts.at(-1) !== '') socket.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  h.host({ close: () => new Promise<void>((r) => server.close(() => r())) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

test('an interim 103 Early Hints before the answer: the client gets the answer (RFC 9110 section 15.2)', async () => {
  const up = await rawUpstream('HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n', 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}')
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: up } } })
  const r = await post(b.url, '/openai/v1/chat/completions', {})
  expect(r.status).toBe(200)
  expect(r.json()).toEqual({ ok: true })
  const [record] = await b.waitForRecords(1)
  expect(record).toMatchObject({ outcome: 'ok', status: 200 })
})

test('an interim 103 and then nothing: the headers deadline still runs (504)', async () => {
  const up = await rawUpstream('HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n', '')
  const b = await h.start({ providers: { openai: { keys: [K1], baseURL: up } }, timeouts: { headersMs: 300 } })
  const r = await post(b.url, '/openai/v1/chat/completions', {})
  expect(r.status).toBe(504)
  const [record] = await b.waitForRecords(1)
  expect(record).toMatchObject({ outcome: 'timeout', status: 504 })
})
