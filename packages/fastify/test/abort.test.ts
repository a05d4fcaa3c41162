import Fastify from 'fastify'
import { expect, it } from 'vitest'
import aibridge from '../src/index.js'
import { listen, open, providers, readUntil, setup } from './helpers.js'
import { gate, heldStream, type Script } from './upstream.js'

const t = setup()

async function start(): Promise<{ base: string; responses: number[] }> {
  const app = t.own(Fastify())
  const responses: number[] = []
  app.addHook('onResponse', async (_request, reply) => void responses.push(reply.statusCode))
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  return { base: await listen(app), responses }
}

const body = JSON.stringify({ model: 'm', stream: true, messages: [] })
const headers = { 'content-type': 'application/json' }

it("aborts the upstream request within a second of the client's disconnect mid-stream", async () => {
  const { base } = await start()
  const never = gate()
  t.up.queue(heldStream('event: message_start\ndata: {}\n\n', never.promise))
  const { req, response } = open(base, '/ai/anthropic/v1/messages', { method: 'POST', headers })
  req.end(body)
  await readUntil(await response, 'message_start')
  const upstream = t.up.requests[0]!
  expect(upstream.aborted).toBe(false)

  const t0 = Date.now()
  req.destroy()
  await upstream.closed
  expect(Date.now() - t0).toBeLessThan(1000)
  expect(upstream.aborted).toBe(true)
  expect(t.up.requests).toHaveLength(1)
})

it('aborts the upstream request when the client leaves before the response headers', async () => {
  const { base, responses } = await start()
  const silent: Script = () => {}
  t.up.queue(silent)
  const { req, response } = open(base, '/ai/openai/v1/chat/completions', { method: 'POST', headers })
  response.catch(() => {})
  req.end(body)
  const [upstream] = await t.up.waitFor(1)

  req.destroy()
  await upstream!.closed
  expect(upstream!.aborted).toBe(true)
  // No failover attempt after the client is gone, and no response was written.
  await new Promise((r) => setTimeout(r, 100))
  expect(t.up.requests).toHaveLength(1)
  expect(responses).toEqual([])
})
