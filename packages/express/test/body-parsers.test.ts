/** A host body parser that ran before aibridge: the body it read still reaches the provider, and intact. */
import type { Express, RequestHandler } from 'express'
import type { IncomingMessage } from 'node:http'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { rateLimited } from '../../../test/support/upstream.js'
import { flavours, K1, K2, setup } from './helpers.js'

const SENT = '{ "model": "claude-test",\n  "max_tokens": 8, "messages": [{"role":"user","content":"héllo ✓ \\u00e9"}] }'
const RESERIALIZED = JSON.stringify(JSON.parse(SENT))

describe.each(flavours)('$name', ({ express }) => {
  const t = setup()

  async function start(...parsers: RequestHandler[]): Promise<string> {
    const app: Express = express()
    for (const parser of parsers) app.use(parser)
    app.use('/ai', t.aibridge())
    return `${await t.serve(app)}/ai/anthropic/v1/messages`
  }

  it('express.json(): the parsed body is re-serialized with a matching content-length, and replayed identically on failover', async () => {
    const url = await start(express.json())
    t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2])
    for (const r of t.up.requests) {
      expect(r.body.toString('utf8')).toBe(RESERIALIZED)
      expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(RESERIALIZED))
      expect(r.headers['content-type']).toBe('application/json')
    }
  })

  it('express.json() with a verify callback keeping req.rawBody: the exact bytes go upstream', async () => {
    const keepRaw = (req: IncomingMessage, _res: unknown, buf: Buffer): void => {
      ;(req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf
    }
    const url = await start(express.json({ verify: keepRaw }))
    t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SENT })
    expect(res.status).toBe(200)
    expect(t.up.requests).toHaveLength(2)
    for (const r of t.up.requests) expect(r.body.toString('utf8')).toBe(SENT)
  })

  it('express.json() on a gzip-encoded request: the decoded body goes upstream without content-encoding', async () => {
    const url = await start(express.json())
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(SENT) })
    expect(res.status).toBe(200)
    const [up] = t.up.requests
    expect(up!.headers['content-encoding']).toBeUndefined()
    expect(up!.body.toString('utf8')).toBe(RESERIALIZED)
  })

  it('express.json() installed but the request is not JSON: the untouched stream is read byte for byte', async () => {
    const url = await start(express.json())
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: SENT })
    expect(res.status).toBe(200)
    expect(t.up.requests[0]!.body.toString('utf8')).toBe(SENT)
  })

  it('express.raw(): binary bytes pass unchanged', async () => {
    const url = await start(express.raw({ type: '*/*' }))
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x80, 0x7b, 0x22, 0x00])
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
    expect(res.status).toBe(200)
    expect(t.up.requests[0]!.body.equals(bytes)).toBe(true)
    expect(Number(t.up.requests[0]!.headers['content-length'])).toBe(bytes.length)
  })

  it('express.text(): the text passes unchanged', async () => {
    const url = await start(express.text({ type: 'text/*' }))
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'plain ✓ text\r\n' })
    expect(res.status).toBe(200)
    expect(t.up.requests[0]!.body.toString('utf8')).toBe('plain ✓ text\r\n')
  })

  it('express.urlencoded(): the form is re-encoded', async () => {
    const url = await start(express.urlencoded({ extended: false }))
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=x+y&b=z%26' })
    expect(res.status).toBe(200)
    expect(new URLSearchParams(t.up.requests[0]!.body.toString('utf8')).getAll('b')).toEqual(['x y', 'z&'])
    expect(t.up.requests[0]!.body.toString('utf8')).toBe('a=1&b=x+y&b=z%26')
  })

  it('a multipart parser (like multer) that consumed an upload: a provider-shaped 500 saying so, no upstream call', async () => {
    // Like multer: reads the whole stream, keeps the text fields as req.body and the files elsewhere.
    const multerLike: RequestHandler = (req, _res, next) => {
      req.on('data', () => {}).on('end', () => {
        ;(req as unknown as { body: unknown; files: unknown[] }).body = { purpose: 'assistants' }
        ;(req as unknown as { files: unknown[] }).files = [{ fieldname: 'file' }]
        next()
      })
    }
    const url = await start(multerLike)
    const form = new FormData()
    form.append('purpose', 'assistants')
    form.append('file', new Blob([Buffer.from([0, 1, 2, 255])]), 'data.bin')
    const res = await fetch(url.replace('/v1/messages', '/v1/files'), { method: 'POST', body: form })
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'api_error', message: expect.stringContaining('a host body parser consumed this multipart/form-data request and kept no raw bytes') },
    })
    expect(t.up.requests).toHaveLength(0)
  })
})
