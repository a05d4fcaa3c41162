/** A client that goes away mid-stream takes the upstream request with it. */
import type { InterceptionRecord } from '@aibridge/express'
import { beforeEach, describe, expect, it } from 'vitest'
import { readUntil } from '../../../test/support/http.js'
import { expectAbortedBy, sse } from '../../../test/support/upstream.js'
import { gate } from '../../../test/support/wait.js'
import { flavours, setup } from './helpers.js'

describe.each(flavours)('$name', ({ express }) => {
  const t = setup()
  let url: string
  const records: InterceptionRecord[] = []

  beforeEach(async () => {
    records.length = 0
    const app = express()
    app.use('/ai', t.aibridge({ onInterception: (r) => records.push(r) }))
    url = `${await t.serve(app)}/ai/anthropic/v1/messages`
  })

  it("aborts the upstream request within a second of the client's disconnect", async () => {
    t.up.queue(sse(['event: message_start\ndata: {}\n\n', 'event: message_stop\ndata: {}\n\n'], { hold: gate().promise }))
    const controller = new AbortController()
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":true}', signal: controller.signal })
    await readUntil(res.body!.getReader(), 'message_start')
    const up = t.up.requests[0]!
    expect(up.aborted).toBe(false)
    await expectAbortedBy(up, () => controller.abort())
    await expect.poll(() => records.length).toBe(1)
    expect(records[0]).toMatchObject({ outcome: 'client_aborted', attempts: 1 })
    expect(t.up.requests).toHaveLength(1)
  })
})
