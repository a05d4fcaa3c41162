/**
 * readBody on a real node:http request: a body that has all arrived before anyone reads it (a small
 * request in one packet, or a host middleware that waited) is taken from the stream's buffer at once;
 * one still arriving is read as it comes. Either way the bytes are the client's, in order.
 */
import http from 'node:http'
import net from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { BodyTooLargeError, readBody } from '../src/body.js'

let server: http.Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

/** A server that reads each request body with readBody after `wait` ms; resolves to its port and the results. */
async function start(wait: number, limit: number, encoding?: BufferEncoding) {
  const results: Array<{ complete: boolean; body?: Buffer; error?: unknown }> = []
  server = http.createServer((req, res) => {
    if (encoding) req.setEncoding(encoding)
    setTimeout(() => {
      const complete = req.complete
      readBody(req, limit, Number(req.headers['content-length']))
        .then((body) => results.push({ complete, body }))
        .catch((error: unknown) => results.push({ complete, error }))
        .finally(() => res.end('ok'))
    }, wait)
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, results }
}

/** Sends `head` then each part after a pause; resolves when the answer ends. */
function send(port: number, head: string, parts: string[], pause = 20): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', reject)
    socket.on('data', (d) => {
      if (d.toString().includes('ok')) socket.end()
    })
    socket.on('close', () => resolve())
    socket.write(head)
    parts.forEach((part, i) => setTimeout(() => socket.write(part), pause * (i + 1)))
  })
}

const chunked = (...pieces: string[]) => pieces.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n'

test('a body already whole comes from the buffer, chunked in several pieces or not', async () => {
  const { port, results } = await start(100, 1024 * 1024)
  const text = '{"messages":[{"content":"héllo"}]}'
  await send(port, `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n`, [text.slice(0, 10), text.slice(10)])
  await send(port, 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n', [chunked('{"a":', '"b', 'c"}')])
  expect(results.map((r) => r.complete)).toEqual([true, true])
  expect(results[0]!.body!.toString('utf8')).toBe(text)
  expect(results[1]!.body!.toString('utf8')).toBe('{"a":"bc"}')
})

test('a body still arriving is read as it comes', async () => {
  const { port, results } = await start(0, 1024 * 1024)
  // The second chunk and the end come 50 ms after the first: the handler reads while they are on their way.
  await send(port, 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n', ['4\r\none,\r\n', '3\r\ntwo\r\n0\r\n\r\n'], 50)
  expect(results[0]!.complete).toBe(false)
  expect(results[0]!.body!.toString('utf8')).toBe('one,two')
})

test('a whole body over the limit is refused, and a string-encoded stream gives its bytes', async () => {
  const big = await start(100, 16)
  await send(big.port, 'POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n', [chunked('0123456789', '0123456789')])
  expect(big.results[0]!.complete).toBe(true)
  expect(big.results[0]!.error).toBeInstanceOf(BodyTooLargeError)
  await new Promise<void>((resolve) => server!.close(() => resolve()))

  const text = await start(100, 1024, 'utf8')
  await send(text.port, 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\n\r\n', ['héllo'])
  expect(text.results[0]!.body!.toString('utf8')).toBe('héllo')
})
