/** Fastify's inject() (light-my-request): how users test their apps, with no socket in between. */
import Fastify from 'fastify'
import { expect, it } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { sse } from '../../../test/support/upstream.js'
import aibridge, { type InterceptionRecord } from '../src/index.js'
import { A1, A2, anthropic429, providers } from './helpers.js'
import { maskKey } from '@aibridge/core'

const t = fixture()

async function app() {
  const records: InterceptionRecord[] = []
  const fastify = t.host(Fastify())
  await fastify.register(aibridge, { prefix: '/ai', providers: providers(t.up), onInterception: (r) => void records.push(r) })
  return { fastify, records }
}

it('serves an injected request across a failover, and records it as ok', async () => {
  const { fastify, records } = await app()
  t.up.queue(anthropic429)
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'é'.repeat(1000) }] })
  const res = await fastify.inject({ method: 'POST', url: '/ai/anthropic/v1/messages?beta=true', headers: { 'content-type': 'application/json' }, payload: body })
  expect(res.statusCode).toBe(200)
  expect(t.up.requests.map((r) => [r.key, r.url])).toEqual([
    [A1, '/v1/messages?beta=true'],
    [A2, '/v1/messages?beta=true'],
  ])
  for (const seen of t.up.requests) expect(seen.body.toString()).toBe(body)
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]).toMatchObject({ outcome: 'ok', status: 200, attempts: 2, credentialHint: maskKey(A2) })
})

it('serves an injected streaming request whole, recorded as ok', async () => {
  const { fastify, records } = await app()
  const events = ['event: message_start\ndata: {}\n\n', 'event: message_stop\ndata: {}\n\n']
  t.up.queue(sse(events))
  const res = await fastify.inject({ method: 'POST', url: '/ai/anthropic/v1/messages', headers: { 'content-type': 'application/json' }, payload: '{"stream":true}' })
  expect(res.statusCode).toBe(200)
  expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
  expect(res.body).toBe(events.join(''))
  await expect.poll(() => records.length).toBe(1)
  expect(records[0]).toMatchObject({ outcome: 'ok', status: 200 })
})
