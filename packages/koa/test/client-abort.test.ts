/** A client that goes away mid-stream takes the upstream request with it. */
import { aibridge, type Bridge, type InterceptionRecord } from '@aibridge/koa'
import Koa from 'koa'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { anthropicAt, readUntil, serve, type Served } from './helpers.js'
import { startUpstream, type Upstream } from './upstream.js'

let upstream: Upstream
let served: Served
let bridge: Bridge
let url: string
const records: InterceptionRecord[] = []

beforeEach(async () => {
  records.length = 0
  upstream = await startUpstream()
  const app = new Koa()
  const mw = aibridge({ ...anthropicAt(upstream.baseURL), onInterception: (r) => records.push(r) }, { prefix: '/ai' })
  bridge = mw.bridge
  app.use(mw)
  served = await serve(app)
  url = `${served.origin}/ai/anthropic/v1/messages`
})
afterEach(async () => {
  await served.close()
  await bridge.close()
  await upstream.close()
})

it("aborts the upstream request within a second of the client's disconnect", async () => {
  upstream.script(upstream.heldStream(['event: message_start\ndata: {}\n\n', 'event: message_stop\ndata: {}\n\n']))
  const controller = new AbortController()
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}', signal: controller.signal })
  await readUntil(res.body!.getReader(), 'message_start')
  const up = upstream.requests[0]!
  expect(up.aborted).toBe(false)
  const t0 = Date.now()
  controller.abort()
  const at = await Promise.race([up.abortedAt, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('upstream never saw the abort')), 1000))])
  expect(at - t0).toBeLessThan(1000)
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]).toMatchObject({ outcome: 'client_aborted', attempts: 1 })
  expect(upstream.requests).toHaveLength(1)
})

it('aborts the upstream request when the client leaves before the provider answered', async () => {
  let answered!: () => void
  const waiting = new Promise<void>((resolve) => (answered = resolve))
  upstream.script(async (_req, res) => {
    await waiting
    if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
  const controller = new AbortController()
  const pending = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: controller.signal }).catch((err: Error) => err)
  await expect.poll(() => upstream.requests.length).toBe(1)
  controller.abort()
  const at = await Promise.race([upstream.requests[0]!.abortedAt, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('upstream never saw the abort')), 1000))])
  expect(at).toBeGreaterThan(0)
  answered()
  expect(await pending).toBeInstanceOf(Error)
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]).toMatchObject({ outcome: 'client_aborted', status: null })
})
