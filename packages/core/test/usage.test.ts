import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { USAGE_LIMITS, usageReader, type UsageResult } from '../src/usage.js'
import { USAGE_CASES, type UsageCase } from './helpers/usage-bodies.js'

type Headers = Parameters<typeof usageReader>[3]

/** Feeds `body` to a fresh reader in the given pieces and returns what it read. */
async function read(c: Pick<UsageCase, 'type' | 'path' | 'contentType'>, pieces: Buffer[], headers: Headers = {}): Promise<UsageResult> {
  const reader = usageReader(c.type, c.path, 200, { 'content-type': c.contentType, ...headers })
  if (!reader) throw new Error('no reader')
  for (const piece of pieces) reader.chunk(piece)
  return reader.end()
}

/** `buf` cut at the given offsets. */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b)
  const pieces: Buffer[] = []
  let from = 0
  for (const p of points) {
    pieces.push(buf.subarray(from, p))
    from = p
  }
  pieces.push(buf.subarray(from))
  return pieces
}

const expected = (c: UsageCase): UsageResult => ({ model: c.model, usage: c.usage })

const compress = {
  gzip: promisify(zlib.gzip),
  br: promisify(zlib.brotliCompress),
  deflate: promisify(zlib.deflate),
  'raw deflate': promisify(zlib.deflateRaw),
}

describe('usageReader reads what the provider reported', () => {
  for (const c of USAGE_CASES) {
    test(`${c.name}: whole, and in every chunking`, async () => {
      const body = Buffer.from(c.body)
      const whole = usageReader(c.type, c.path, 200, { 'content-type': c.contentType, 'content-length': String(body.length) })!
      whole.chunk(body)
      // An uncompressed body's result comes at once, not as a promise.
      expect(whole.end()).toEqual(expected(c))
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat({ max: body.length }), { maxLength: 40 }), async (offsets) => {
          expect(await read(c, cut(body, offsets))).toEqual(expected(c))
        }),
        { numRuns: body.length > 100_000 ? 20 : 100 },
      )
    })
  }

  test('byte by byte', async () => {
    for (const c of USAGE_CASES.filter((u) => u.body.length < 20_000)) {
      const body = Buffer.from(c.body)
      const bytes = Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1))
      expect(await read(c, bytes), c.name).toEqual(expected(c))
    }
  })

  for (const [coding, encode] of Object.entries(compress)) {
    const header = coding === 'raw deflate' ? 'deflate' : coding
    test(`${coding}: decoded off the client's path, in any chunking`, async () => {
      for (const c of USAGE_CASES) {
        const body = await encode(Buffer.from(c.body))
        const result = usageReader(c.type, c.path, 200, { 'content-type': c.contentType, 'content-encoding': header })!
        result.chunk(body)
        const pending = result.end()
        expect(pending).toBeInstanceOf(Promise)
        expect(await pending, c.name).toEqual(expected(c))
      }
      const sample = USAGE_CASES.filter((c) => c.body.length < 20_000)
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...sample), fc.array(fc.nat(), { maxLength: 20 }), async (c, offsets) => {
          const body = await encode(Buffer.from(c.body))
          expect(await read(c, cut(body, offsets), { 'content-encoding': header })).toEqual(expected(c))
        }),
        { numRuns: 50 },
      )
    })
  }

  test('a compressed body whose first chunk is one byte still tells zlib from raw deflate', async () => {
    const c = USAGE_CASES[0]!
    for (const encode of [compress.deflate, compress['raw deflate']]) {
      const body = await encode(Buffer.from(c.body))
      expect(await read(c, [body.subarray(0, 1), body.subarray(1)], { 'content-encoding': 'deflate' })).toEqual(expected(c))
      expect(await read(c, [body.subarray(0, 1)], { 'content-encoding': 'deflate' })).toEqual({ model: null, usage: null })
    }
  })
})

describe('usageReader stays out of the way', () => {
  const anthropic = USAGE_CASES[0]!

  test('no reader for a non-2xx answer, a path without usage, another content type or an unknown coding', () => {
    const json = { 'content-type': 'application/json' }
    expect(usageReader('anthropic', '/v1/messages', 400, json)).toBeUndefined()
    expect(usageReader('anthropic', '/v1/messages', 529, json)).toBeUndefined()
    expect(usageReader('anthropic', '/v1/messages/count_tokens', 200, json)).toBeUndefined()
    expect(usageReader('anthropic', '/v1/models', 200, json)).toBeUndefined()
    expect(usageReader('openai', '/v1/responses/resp_123', 200, json)).toBeUndefined()
    expect(usageReader('openai', '/v1/files', 200, json)).toBeUndefined()
    expect(usageReader('gemini', '/v1beta/models/gemini-2.5-flash:countTokens', 200, json)).toBeUndefined()
    expect(usageReader('mystery', '/v1/messages', 200, json)).toBeUndefined()
    expect(usageReader('anthropic', '/v1/messages', 200, { 'content-type': 'text/plain' })).toBeUndefined()
    expect(usageReader('anthropic', '/v1/messages', 200, {})).toBeUndefined()
    expect(usageReader('anthropic', '/v1/messages', 200, { ...json, 'content-encoding': 'compress' })).toBeUndefined()
    expect(usageReader('anthropic', '/v1/messages', 200, { ...json, 'content-encoding': 'gzip, br' })).toBeUndefined()
    // A query string does not hide the path; header arrays (as undici gives them) are read.
    expect(usageReader('openai', '/v1/chat/completions?api-version=2024-10-21', 200, { 'content-type': ['application/json'] })).toBeDefined()
  })

  test(`a JSON body over ${USAGE_LIMITS.jsonBytes} bytes is skipped, by its length or once that much has gone by`, async () => {
    const over = String(USAGE_LIMITS.jsonBytes + 1)
    expect(usageReader('anthropic', '/v1/messages', 200, { 'content-type': 'application/json', 'content-length': over })).toBeUndefined()
    // Event streams have no such limit.
    expect(usageReader('anthropic', '/v1/messages', 200, { 'content-type': 'text/event-stream', 'content-length': over })).toBeDefined()

    // The answer's text is the bulk of a large body; usage still comes last.
    const withText = (bytes: number) => Buffer.from(JSON.stringify({ ...JSON.parse(anthropic.body), content: [{ type: 'text', text: 'a'.repeat(bytes) }] }))
    const pieces = (buf: Buffer) => Array.from({ length: Math.ceil(buf.length / (1024 * 1024)) }, (_, i) => buf.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024))
    expect(await read(anthropic, pieces(withText(USAGE_LIMITS.jsonBytes)))).toEqual({ model: null, usage: null })
    expect(await read(anthropic, pieces(withText(USAGE_LIMITS.jsonBytes - 1024)))).toEqual(expected(anthropic))
  })

  test('a decompression bomb stops at the limit and reads nothing', async () => {
    // 40 MiB of whitespace inside a valid body: gzip makes it about 40 KiB.
    const body = Buffer.concat([Buffer.from(anthropic.body.slice(0, -1)), Buffer.alloc(40 * 1024 * 1024, 0x20), Buffer.from('}')])
    const bomb = await compress.gzip(body)
    expect(bomb.length).toBeLessThan(100 * 1024)
    const reader = usageReader('anthropic', '/v1/messages', 200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })!
    for (let i = 0; i < bomb.length; i += 16 * 1024) reader.chunk(bomb.subarray(i, i + 16 * 1024))
    expect(await reader.end()).toEqual({ model: null, usage: null })
  })

  test('garbage: no result and no error', async () => {
    const gz = { 'content-encoding': 'gzip' }
    expect(await read(anthropic, [Buffer.from('not gzip at all, not even close')], gz)).toEqual({ model: null, usage: null })
    expect(await read(anthropic, [Buffer.from('<html>upstream proxy error</html>')])).toEqual({ model: null, usage: null })
    expect(await read(anthropic, [Buffer.from('{"usage": {"input_tokens": "twelve", "output_tokens": -1}}')])).toEqual({ model: null, usage: null })
    expect(await read(anthropic, [Buffer.from('{"usage": {"input_tokens": 3, "output_tokens": 4')])).toEqual({ model: null, usage: null })
    expect(await read(anthropic, [])).toEqual({ model: null, usage: null })
    expect(await read(anthropic, [], gz)).toEqual({ model: null, usage: null })
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('', 'gzip', 'br', 'deflate'), async (bytes, coding) => {
        for (const contentType of ['application/json', 'text/event-stream']) {
          const result = await read({ ...anthropic, contentType }, [Buffer.from(bytes)], { 'content-encoding': coding })
          expect(result.usage === null || typeof result.usage === 'object').toBe(true)
        }
      }),
      { numRuns: 100 },
    )
  })

  test('a compressed body cut mid-way still gives what was decoded', async () => {
    const stream = USAGE_CASES.find((c) => c.name.startsWith('Anthropic Messages stream (message_delta with output'))!
    const gz = await compress.gzip(Buffer.from(stream.body))
    // Cut inside the deflate data, once message_start (model, input counts) decodes but before the end.
    let n = 1
    while (n < gz.length && !zlib.gunzipSync(gz.subarray(0, n), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).includes('content_block_start')) n++
    expect(n).toBeLessThan(gz.length - 10)
    const result = await read(stream, [gz.subarray(0, n)], { 'content-encoding': 'gzip' })
    expect(result).toEqual({ model: stream.model, usage: { inputTokens: 472, outputTokens: 2, cacheReadTokens: 2000, cacheWriteTokens: 100 } })
  })

  test('an event stream cut mid-event keeps the usage of the events before', async () => {
    const stream = USAGE_CASES.find((c) => c.name.startsWith('Anthropic Messages stream (message_delta with output'))!
    const body = Buffer.from(stream.body)
    const cutAt = body.indexOf('event: message_delta') + 40
    expect(await read(stream, [body.subarray(0, cutAt)])).toEqual({ model: stream.model, usage: { inputTokens: 472, outputTokens: 2, cacheReadTokens: 2000, cacheWriteTokens: 100 } })
  })

  test('a 32 MiB line still yields the model from its head and usage from its tail', async () => {
    const reader = usageReader('openai', '/v1/responses', 200, { 'content-type': 'text/event-stream' })!
    reader.chunk(Buffer.from('data: {"type":"response.completed","response":{"model":"gpt-5","output":"'))
    const filler = Buffer.alloc(64 * 1024, 0x61)
    for (let i = 0; i < 512; i++) reader.chunk(filler)
    reader.chunk(Buffer.from('","usage":{"input_tokens":1,"output_tokens":2}}}\n\n'))
    expect(await reader.end()).toEqual({ model: 'gpt-5', usage: { inputTokens: 1, outputTokens: 2, cacheReadTokens: null, cacheWriteTokens: null } })
  })
})
