/** A provider that dies mid-body never looks like a clean end to the client. */
import type { InterceptionRecord } from '@aibridge/koa'
import Koa from 'koa'
import { beforeEach, expect, it } from 'vitest'
import { rawSettled } from '../../../test/support/http.js'
import { dieAfter } from '../../../test/support/upstream.js'
import { setup } from './helpers.js'

const PATH = '/ai/anthropic/v1/messages'
const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}' }

const t = setup()
let origin: string
const records: InterceptionRecord[] = []

beforeEach(async () => {
  records.length = 0
  const app = new Koa()
  app.use(t.aibridge({ onInterception: (r) => records.push(r) }, { prefix: '/ai' }))
  origin = await t.serveApp(app)
})

it('SSE: the events sent so far, then an error event, then the end', async () => {
  t.up.queue(dieAfter({ 'content-type': 'text/event-stream' }, 'event: message_start\ndata: {"type":"message_start"}\n\nevent: content_block_delta\ndata: {"type":"content_bl'))
  const res = await rawSettled(origin, PATH, post)
  expect(res.status).toBe(200)
  expect(res.ended).toBe('end')
  const text = res.body.toString('utf8')
  expect(text.startsWith('event: message_start\ndata: {"type":"message_start"}\n\n')).toBe(true)
  // The half event never reaches the client: the error event follows the last whole one, as the SDKs parse it.
  expect(text).not.toContain('content_bl')
  expect(text).toMatch(/^event: message_start\ndata: \{"type":"message_start"\}\n\nevent: error\ndata: \{.*"type":"error".*\}\n\n$/s)
  expect(text).not.toContain('message_stop')
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]!.outcome).toBe('truncated')
})

it('non-SSE: the connection is reset, so the client sees an error and not a short body that ends cleanly', async () => {
  t.up.queue(dieAfter({ 'content-type': 'application/json', 'content-length': 1000 }, '{"id":"msg_1","content":[{"type":"text","text":"half'))
  const res = await rawSettled(origin, PATH, post)
  expect(res.status).toBe(200)
  expect(res.ended).toBeInstanceOf(Error)
  expect(res.body.toString('utf8')).toContain('"text":"half')
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]!.outcome).toBe('truncated')
  // Koa reports a streamed body that failed to the app's 'error' listeners, marked as past the headers.
  await expect.poll(() => t.errors.length).toBeGreaterThan(0)
  for (const err of t.errors) expect(err).toMatchObject({ headerSent: true })
})

it('non-SSE without a Content-Length (chunked): still a reset, never a clean end, for fetch too', async () => {
  const half = dieAfter({ 'content-type': 'application/json' }, '{"id":"msg_1","content":[{"type":"text","text":"half')
  t.up.queue(half, half)
  const res = await rawSettled(origin, PATH, post)
  expect(res.status).toBe(200)
  expect(res.headers['transfer-encoding']).toBe('chunked')
  expect(res.ended).toBeInstanceOf(Error)
  const viaFetch = await fetch(`${origin}${PATH}`, post)
  expect(viaFetch.status).toBe(200)
  await expect(viaFetch.arrayBuffer()).rejects.toThrow()
  await expect.poll(() => records.length).toBe(2)
  expect(records.map((r) => r.outcome)).toEqual(['truncated', 'truncated'])
})
