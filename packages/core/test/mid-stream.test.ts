import { gzipSync } from 'node:zlib'
import { describe, expect, test } from 'vitest'
import { raw } from '../../../test/support/http.js'
import { anthropicStreamEvents, dieAfter, openaiStreamEvents, sseEvent } from '../../../test/support/upstream.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('ms1')
const K2 = testKey('ms2')

const SSE = { 'content-type': 'text/event-stream' }

function parseEvents(text: string): Array<{ event: string | null; data: string }> {
  return text
    .split(/\n\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n')
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? null
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n')
      return { event, data }
    })
}

describe('an SSE upstream that dies mid-stream: one provider-shaped error event, then a clean end', () => {
  test('anthropic', async () => {
    const store = recordingStore()
    const b = await h.start({ providers: { anthropic: { keys: [K1, K2], baseURL: h.up.url } }, store })
    const events = anthropicStreamEvents('a b c')
    h.up.handle(dieAfter(SSE, events[0]!, events[1]!))
    const r = await raw(b.url, '/anthropic/v1/messages', { method: 'POST', body: '{"stream":true}' })
    expect(r.status).toBe(200)
    expect(r.text.startsWith(events[0]! + events[1]!)).toBe(true)
    const parsed = parseEvents(r.text)
    expect(parsed).toHaveLength(3)
    const last = parsed[2]!
    expect(last.event).toBe('error')
    expect(JSON.parse(last.data)).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('ended unexpectedly') } })
    // No failover after the first byte, nothing marked.
    expect(h.up.requests).toHaveLength(1)
    expect(store.marks).toHaveLength(0)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'truncated', status: 200, attempts: 1 })
  })

  test('openai', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    const events = openaiStreamEvents('a b c')
    h.up.handle(dieAfter(SSE, events[0]!))
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{"stream":true}' })
    const parsed = parseEvents(r.text)
    expect(parsed).toHaveLength(2)
    // Chat Completions' own form: a final data chunk carrying `error` (no event name).
    expect(parsed[1]!.event).toBe(null)
    expect(JSON.parse(parsed[1]!.data)).toEqual({
      error: { message: expect.stringContaining('ended unexpectedly'), type: 'server_error', param: null, code: 'stream_interrupted' },
    })
    expect(h.up.requests).toHaveLength(1)
    const [record] = await b.waitForRecords(1)
    expect(record!.outcome).toBe('truncated')
  })

  test('openai responses: the Responses error event, numbered after the last event, with the error also nested under `error`', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const events = [
      sseEvent('response.created', { type: 'response.created', sequence_number: 0, response: { id: 'resp_1', status: 'in_progress' } }),
      sseEvent('response.output_text.delta', { type: 'response.output_text.delta', sequence_number: 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' }),
    ]
    h.up.handle(dieAfter(SSE, ...events))
    const r = await raw(b.url, '/openai/v1/responses', { method: 'POST', body: '{"stream":true}' })
    const parsed = parseEvents(r.text)
    expect(parsed.map((e) => e.event)).toEqual(['response.created', 'response.output_text.delta', 'error'])
    const message = expect.stringContaining('ended unexpectedly')
    // The documented flat form (the Vercel AI SDK validates it), and `error`, on which the openai SDK raises.
    expect(JSON.parse(parsed[2]!.data)).toEqual({
      type: 'error',
      code: 'stream_interrupted',
      message,
      param: null,
      sequence_number: 2,
      error: { type: 'server_error', code: 'stream_interrupted', message, param: null },
    })

    // Cut before any event: numbered 0.
    h.up.handle(dieAfter(SSE))
    const r2 = await raw(b.url, '/openai/v1/responses', { method: 'POST', body: '{"stream":true}' })
    expect(JSON.parse(parseEvents(r2.text)[0]!.data)).toMatchObject({ type: 'error', sequence_number: 0 })
  })

  test('an event cut in the middle never reaches the client: the stream ends with the last whole event, then the error', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } } })
    const events = anthropicStreamEvents('a b c')
    h.up.handle(dieAfter(SSE, events[0]!, 'event: content_block_delta\ndata: {"type":"content_bl'))
    const r = await raw(b.url, '/anthropic/v1/messages', { method: 'POST', body: '{}' })
    expect(r.text.startsWith(events[0]! + 'event: error\n')).toBe(true)
    expect(r.text).not.toContain('content_bl')
    expect(parseEvents(r.text).map((e) => e.event)).toEqual(['message_start', 'error'])
  })

  test('an event that never ends is not held past 16 MiB: it goes out, and a death still ends with a standalone error event', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const line = `data: ${'x'.repeat(64 * 1024)}\n`
    const lines = Array.from({ length: 272 }, () => line) // 17 MiB of lines with no blank line
    h.up.handle(dieAfter(SSE, ...lines))
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })
    // At least the first 16 MiB went out as sent (what came after it, held when the source died, did
    // not), then the unfinished event was closed and the error event followed on its own.
    const cut = r.text.lastIndexOf('\n\ndata: {"error"')
    expect(cut).toBeGreaterThan(16 * 1024 * 1024)
    expect(lines.join('').startsWith(r.text.slice(0, cut))).toBe(true)
    const after = parseEvents(r.text.slice(cut + 2))
    expect(after).toHaveLength(1)
    expect(JSON.parse(after[0]!.data).error.code).toBe('stream_interrupted')
  })

  test('an event split across chunks goes out whole once its last chunk arrives; the bytes are unchanged', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const events = openaiStreamEvents('one two three')
    const all = events.join('')
    // Cut everywhere, including inside blank lines and between CR and LF.
    const parts: string[] = []
    for (let i = 0; i < all.length; i += 7) parts.push(all.slice(i, i + 7))
    h.up.handle(async (_seen, res) => {
      res.writeHead(200, SSE)
      for (const p of parts) {
        res.write(p)
        await new Promise((r) => setTimeout(r, 1))
      }
      res.end()
    })
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })
    expect(r.text).toBe(all)
  })

  test('a CRLF-delimited stream cut at an event boundary: the error event still stands on its own', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } } })
    const events = anthropicStreamEvents('a b').map((e) => e.replace(/\n/g, '\r\n'))
    h.up.handle(dieAfter(SSE, events[0]!))
    const r = await raw(b.url, '/anthropic/v1/messages', { method: 'POST', body: '{}' })
    const parsed = parseEvents(r.text.replace(/\r\n/g, '\n'))
    expect(parsed.map((e) => e.event)).toEqual(['message_start', 'error'])
    expect(JSON.parse(parsed[1]!.data).error.type).toBe('api_error')
  })

  test('an upstream that dies before any body byte: the stream is just the error event', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(dieAfter(SSE))
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })
    expect(r.status).toBe(200)
    const parsed = parseEvents(r.text)
    expect(parsed).toHaveLength(1)
    expect(r.text.startsWith('data: {"error":')).toBe(true)
    expect(JSON.parse(parsed[0]!.data).error.code).toBe('stream_interrupted')
  })

  test('an upstream that goes silent longer than timeouts.bodyIdleMs is cut the same way', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } }, timeouts: { bodyIdleMs: 200 } })
    const events = openaiStreamEvents('a b')
    h.up.handle((_s, res) => {
      res.writeHead(200, SSE)
      res.write(events[0])
      // ...and nothing more.
    })
    const started = Date.now()
    const r = await raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })
    // Exact to the timer, not to undici's one-second clock.
    expect(Date.now() - started).toBeLessThan(900)
    const parsed = parseEvents(r.text)
    expect(JSON.parse(parsed.at(-1)!.data).error.code).toBe('stream_interrupted')
    const [record] = await b.waitForRecords(1)
    expect(record!.outcome).toBe('truncated')
    // The silent upstream exchange is closed too.
    expect(await Promise.race([h.up.requests[0]!.closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))])).toBe(true)
  })
})

describe('a non-SSE upstream that dies mid-body: the client connection is destroyed', () => {
  test('with a Content-Length: the client never sees a clean end', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1, K2], baseURL: h.up.url } } })
    h.up.handle(dieAfter({ 'content-type': 'application/json', 'content-length': 1000 }, '{"id":"chatcmpl-1","choi'))
    await expect(raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })).rejects.toThrow()
    expect(h.up.requests).toHaveLength(1)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'truncated', attempts: 1 })
  })

  test('a body cut before its first byte: the client gets a reset with no status line, and the record says so (status null)', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(dieAfter({ 'content-type': 'application/json', 'content-length': 1000 }))
    await expect(raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })).rejects.toThrow()
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'truncated', status: null, firstByteMs: null })
  })

  test('chunked: the client never sees a clean end', async () => {
    const b = await h.start({ providers: { anthropic: { keys: [K1], baseURL: h.up.url } } })
    h.up.handle(dieAfter({ 'content-type': 'application/json' }, '{"id":"msg_1",', '"content":['))
    await expect(raw(b.url, '/anthropic/v1/messages', { method: 'POST', body: '{}' })).rejects.toThrow()
    const [record] = await b.waitForRecords(1)
    expect(record!.outcome).toBe('truncated')
  })

  test('a compressed SSE stream cannot take an appended event: it is destroyed instead', async () => {
    const b = await h.start({ providers: { openai: { keys: [K1], baseURL: h.up.url } } })
    const gz = gzipSync(openaiStreamEvents('a b c').join(''))
    h.up.handle(dieAfter({ ...SSE, 'content-encoding': 'gzip' }, gz.subarray(0, 20)))
    await expect(raw(b.url, '/openai/v1/chat/completions', { method: 'POST', body: '{}' })).rejects.toThrow()
  })
})
