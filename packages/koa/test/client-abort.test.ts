/** A client that goes away mid-stream takes the upstream request with it. */
import type { InterceptionRecord } from '@aibridge/koa'
import Koa from 'koa'
import { beforeEach, expect, it } from 'vitest'
import { readUntil } from '../../../test/support/http.js'
import { expectAbortedBy, sse } from '../../../test/support/upstream.js'
import { gate } from '../../../test/support/wait.js'
import { setup } from './helpers.js'

const t = setup()
let url: string
const records: InterceptionRecord[] = []

beforeEach(async () => {
  records.length = 0
  const app = new Koa()
  app.use(t.aibridge({ onInterception: (r) => records.push(r) }, { prefix: '/ai' }))
  url = `${await t.serveApp(app)}/ai/anthropic/v1/messages`
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

it('aborts the upstream request when the client leaves before the provider answered', async () => {
  const answer = gate()
  t.up.queue(async (_seen, res) => {
    await answer.promise
    if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
  const controller = new AbortController()
  const pending = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: controller.signal }).catch((err: Error) => err)
  await expect.poll(() => t.up.requests.length).toBe(1)
  await expectAbortedBy(t.up.requests[0]!, () => controller.abort())
  answer.open()
  expect(await pending).toBeInstanceOf(Error)
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]).toMatchObject({ outcome: 'client_aborted', status: null })
})
