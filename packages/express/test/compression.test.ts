/** With the `compression` middleware app-wide, ordinary answers are compressed and SSE still streams event by event. */
import compression from 'compression'
import { gunzipSync } from 'node:zlib'
import { beforeEach, describe, expect, it } from 'vitest'
import { raw, readRest, readUntil } from '../../../test/support/http.js'
import { json, sse } from '../../../test/support/upstream.js'
import { gate } from '../../../test/support/wait.js'
import { flavours, setup } from './helpers.js'

const EVENTS = [
  'event: message_start\ndata: {"type":"message_start"}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"hi"}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]
const PATH = '/ai/anthropic/v1/messages'

describe.each(flavours)('$name', ({ express }) => {
  const t = setup()
  let origin: string

  beforeEach(async () => {
    const app = express()
    app.use(compression({ threshold: 0 }))
    app.use('/ai', t.aibridge())
    origin = await t.serve(app)
  })

  it('compresses an ordinary JSON answer (so the middleware is really in the path)', async () => {
    t.up.queue(json(200, { text: 'a'.repeat(20_000) }))
    const res = await raw(origin, PATH, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' }, body: '{}' })
    expect(res.status).toBe(200)
    expect(res.headers['content-encoding']).toBe('gzip')
    expect(res.body.length).toBeLessThan(20_000)
    expect(JSON.parse(gunzipSync(res.body).toString('utf8'))).toEqual({ text: 'a'.repeat(20_000) })
  })

  it('delivers the first SSE event uncompressed while the provider still holds the stream open', async () => {
    const release = gate()
    t.up.queue(sse(EVENTS, { hold: release.promise }))
    const res = await fetch(`${origin}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip, br' }, body: '{"stream":true}' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(res.headers.get('content-encoding')).toBeNull()
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform')
    const reader = res.body!.getReader()
    const first = await readUntil(reader, 'message_start')
    expect(first).not.toContain('content_block_delta')
    expect(t.up.requests[0]!.aborted).toBe(false)
    release.open()
    const rest = await readRest(reader)
    expect(first + rest).toBe(EVENTS.join(''))
  })
})
