import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { open, readUntil } from '../../../test/support/http.js'
import { expectAbortedBy, hang, sse } from '../../../test/support/upstream.js'
import { gate, sleep } from '../../../test/support/wait.js'
import aibridge from '../src/index.js'
import { listen, providers } from './helpers.js'

const t = fixture()

async function start(): Promise<{ base: string; responses: number[] }> {
  const app = t.host(Fastify())
  const responses: number[] = []
  app.addHook('onResponse', async (_request, reply) => void responses.push(reply.statusCode))
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  return { base: await listen(app), responses }
}

const body = JSON.stringify({ model: 'm', stream: true, messages: [] })
const headers = { 'content-type': 'application/json' }

it("aborts the upstream request within a second of the client's disconnect mid-stream", async () => {
  const { base } = await start()
  t.up.queue(sse(['event: message_start\ndata: {}\n\n', 'event: message_stop\ndata: {}\n\n'], { hold: gate().promise }))
  const { req, response } = open(base, '/ai/anthropic/v1/messages', { method: 'POST', headers })
  req.end(body)
  await readUntil(await response, 'message_start')
  const upstream = t.up.requests[0]!
  expect(upstream.aborted).toBe(false)

  await expectAbortedBy(upstream, () => req.destroy())
  expect(t.up.requests).toHaveLength(1)
})

it('aborts the upstream request when the client leaves before the response headers', async () => {
  const { base, responses } = await start()
  t.up.queue(hang)
  const { req } = open(base, '/ai/openai/v1/chat/completions', { method: 'POST', headers })
  req.end(body)
  const [upstream] = await t.up.waitFor(1)

  await expectAbortedBy(upstream!, () => req.destroy())
  // No failover attempt after the client is gone, and no response was written.
  await sleep(100)
  expect(t.up.requests).toHaveLength(1)
  expect(responses).toEqual([])
})
