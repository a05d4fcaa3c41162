import type { IncomingMessage } from 'node:http'
import { describe, expect, test } from 'vitest'
import { open, raw, readRest, readUntil } from '../../../test/support/http.js'
import { anthropicStreamEvents, json, openaiStreamEvents, sse } from '../../../test/support/upstream.js'
import { gate, sleep, until } from '../../../test/support/wait.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'

const h = harness()
const K1 = testKey('st1')

/** Opens a streaming POST and hands back the response as soon as its headers arrive. */
function openStream(base: string, path: string, body = '{"stream":true}'): Promise<IncomingMessage> {
  const { req, response } = open(base, path, { method: 'POST', headers: { 'content-type': 'application/json' } })
  req.end(body)
  return response
}

describe('SSE streams as it arrives', () => {
  for (const provider of ['anthropic', 'openai'] as const) {
    test(`${provider}: the first event reaches the client while the upstream still holds the stream open`, async () => {
      const b = await h.start({ providers: { [provider]: { keys: [K1], baseURL: h.up.url } } })
      const events = provider === 'anthropic' ? anthropicStreamEvents('one two three') : openaiStreamEvents('one two three')
      const hold = gate()
      h.up.handle(sse(events, { hold: hold.promise }))
      const res = await openStream(b.url, provider === 'anthropic' ? '/anthropic/v1/messages' : '/openai/v1/chat/completions')
      expect(res.statusCode).toBe(200)
      const first = await readUntil(res, '\n\n')
      expect(first).toBe(events[0])
      // The upstream has not finished: the event came through on its own.
      const seen = h.up.requests[0]!
      let upstreamDone = false
      void seen.closed.then(() => (upstreamDone = true))
      await sleep(20)
      expect(upstreamDone).toBe(false)
      hold.open()
      const rest = await readRest(res)
      expect(first + rest).toBe(events.join(''))
      await seen.closed
      const [record] = await b.waitForRecords(1)
      expect(record!.outcome).toBe('ok')
      expect(record!.firstByteMs).toBeTypeOf('number')
      expect(record!.firstByteMs!).toBeLessThanOrEqual(record!.durationMs)
    })
  }

  test('SSE responses get Cache-Control: no-cache, no-transform and X-Accel-Buffering: no', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(sse(openaiStreamEvents('hi'), { headers: { 'cache-control': 'max-age=3600' } }))
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{"stream":true}' })
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(r.headers['cache-control']).toBe('no-cache, no-transform')
    expect(r.headers['x-accel-buffering']).toBe('no')
    expect(r.headers['content-length']).toBeUndefined()
    expect(r.text).toBe(openaiStreamEvents('hi').join(''))
  })

  test('non-SSE responses do not get the SSE headers', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(json(200, { ok: true }, { 'cache-control': 'private' }))
    const r = await raw(b.url, '/openai/v1/models')
    expect(r.headers['cache-control']).toBe('private')
    expect(r.headers['x-accel-buffering']).toBeUndefined()
  })
})

describe('backpressure', () => {
  test('a client that stops reading stops the upstream; resuming delivers every byte', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const total = 64 * 1024 * 1024
    const chunk = Buffer.alloc(64 * 1024, 'x')
    let written = 0
    let upstreamDone = false
    h.up.handle(async (_s, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total })
      while (written < total) {
        written += chunk.length
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
      }
      res.end(() => (upstreamDone = true))
    })
    const res = await openStream(b.url, '/openai/v1/files/file-1/content')
    res.pause()
    // Let the buffers between upstream and client fill up, then see the upstream stall.
    await until(() => written > 0)
    let last = -1
    for (let i = 0; i < 40 && written !== last; i++) {
      last = written
      await sleep(50)
    }
    expect(written).toBe(last)
    expect(written).toBeLessThan(total / 2)
    expect(upstreamDone).toBe(false)
    let received = 0
    res.on('data', (c: Buffer) => (received += c.length))
    await new Promise((r) => {
      res.on('end', r)
      res.resume()
    })
    expect(received).toBe(total)
    expect(upstreamDone).toBe(true)
  })
})
