/** A client that goes away mid-stream takes the upstream request with it. */
import { aibridge, type InterceptionRecord } from '@aibridge/express'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { anthropicAt, flavours, readUntil, serve, type Served } from './helpers.js'
import { startUpstream, type Upstream } from './upstream.js'

describe.each(flavours)('$name', ({ express }) => {
  let upstream: Upstream
  let served: Served
  let url: string
  let closeBridge: () => Promise<void>
  const records: InterceptionRecord[] = []

  beforeEach(async () => {
    records.length = 0
    upstream = await startUpstream()
    const app = express()
    const mw = aibridge({ ...anthropicAt(upstream.baseURL), onInterception: (r) => records.push(r) })
    closeBridge = () => mw.bridge.close()
    app.use('/ai', mw)
    served = await serve(app)
    url = `${served.origin}/ai/anthropic/v1/messages`
  })
  afterEach(async () => {
    await served.close()
    await closeBridge()
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
})
