import { Bridge, createBridge, type InterceptionRecord } from '@aibridge/core'
import Fastify from 'fastify'
import { expect, it, vi } from 'vitest'
import { fixture } from '../../../test/support/fixture.js'
import { post, raw } from '../../../test/support/http.js'
import { pipelined, postBytes } from '../../../test/support/pipeline.js'
import { hang } from '../../../test/support/upstream.js'
import { within } from '../../../test/support/wait.js'
import aibridge from '../src/index.js'
import { A1, A2, anthropic429, listen, providers } from './helpers.js'

const t = fixture()

it('decorates the instance with the bridge it created and closes it with the instance', async () => {
  const app = Fastify()
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  await app.ready()
  expect(app.aibridge).toBeInstanceOf(Bridge)
  expect(Object.keys(app.aibridge.keyStates())).toEqual(['anthropic', 'openai'])
  const close = vi.spyOn(app.aibridge, 'close')
  await app.close()
  expect(close).toHaveBeenCalledTimes(1)
})

it('serves a shared bridge from two apps, one pool for both, and never closes it', async () => {
  const bridge = t.own(createBridge({ providers: providers(t.up) }))
  const close = vi.spyOn(bridge, 'close')
  const first = t.host(Fastify())
  await first.register(aibridge, { bridge, prefix: '/ai' })
  const second = Fastify()
  await second.register(aibridge, { bridge, prefix: '/llm' })
  const [a, b] = [await listen(first), await listen(second)]
  expect(first.aibridge).toBe(bridge)

  // A 429 seen through the first app takes the key out for the second too.
  t.up.queue(anthropic429)
  expect((await post(a, '/ai/anthropic/v1/messages', { model: 'm' })).status).toBe(200)
  expect((await post(b, '/llm/anthropic/v1/messages', { model: 'm' })).status).toBe(200)
  expect(t.up.requests.map((r) => r.key)).toEqual([A1, A2, A2])

  await second.close()
  expect(close).not.toHaveBeenCalled()
  expect((await post(a, '/ai/anthropic/v1/messages', { model: 'm' })).status).toBe(200)
})

it('takes two registrations with different prefixes; the decorator stays the first bridge', async () => {
  const app = t.host(Fastify())
  const other = t.own(createBridge({ providers: { openai: { keys: ['sk-proj-test-OTHER-eeee5555'], baseURL: t.up.url } } }))
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up) })
  await app.register(aibridge, { prefix: '/other', bridge: other })
  const base = await listen(app)
  expect(app.aibridge).not.toBe(other)
  expect((await raw(base, '/ai/openai/v1/models')).status).toBe(200)
  expect((await raw(base, '/other/openai/v1/models')).status).toBe(200)
  // The second bridge has no anthropic provider: that path falls through.
  expect((await raw(base, '/other/anthropic/v1/models')).status).toBe(404)
  expect(t.up.requests.map((r) => r.key)).toEqual(['sk-proj-test-PRIMARY-cccc3333', 'sk-proj-test-OTHER-eeee5555'])
})

it('refuses bad options when the plugin is registered, naming them', async () => {
  const bridge = t.own(createBridge({ providers: providers(t.up) }))
  const cases: Array<[object, RegExp]> = [
    [{ prefix: 'ai', providers: providers(t.up) }, /prefix must be '' or a path starting with '\/', got "ai"/],
    [{ bridge, bodyLimit: 1024 }, /bridge cannot be combined with bridge options \(bodyLimit\)/],
    [{ bridge: {} }, /bridge must be a Bridge/],
    [{ providers: {} }, /providers is empty/],
    [{ providers: providers(t.up), timeout: 5 }, /timeout is not an option \(did you mean timeouts\?\)/],
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await expect(app.register(aibridge, options as never).ready()).rejects.toThrow(message)
    await app.close()
  }
})

it("takes Fastify's own register options (logLevel, logSerializers) beside the bridge's, own bridge or shared", async () => {
  const app = t.host(Fastify())
  await app.register(aibridge, { prefix: '/ai', logLevel: 'warn', logSerializers: {}, providers: providers(t.up) } as never)
  const shared = t.own(createBridge({ providers: providers(t.up) }))
  await app.register(aibridge, { prefix: '/llm', logLevel: 'error', bridge: shared } as never)
  const base = await listen(app)
  expect((await raw(base, '/ai/openai/v1/models')).status).toBe(200)
  expect((await raw(base, '/llm/openai/v1/models')).status).toBe(200)
})

it('issue 15: app.close() finishes promptly after a client pipelined two requests and hung up, with both records', async () => {
  const records: InterceptionRecord[] = []
  const app = Fastify()
  await app.register(aibridge, { prefix: '/ai', providers: providers(t.up), onInterception: (r) => records.push(r) })
  const base = await listen(app)
  t.up.handle(hang)
  const client = await pipelined(base, postBytes('/ai/openai/v1/chat/completions') + postBytes('/ai/openai/v1/embeddings'))
  await t.up.waitFor(2)
  client.hangUp()
  // A generous bound on "eventually": the regression hung forever.
  await within(app.close(), 5000, 'app.close()')
  expect(records.map((r) => [r.path, r.outcome]).sort()).toEqual([
    ['/v1/chat/completions', 'client_aborted'],
    ['/v1/embeddings', 'client_aborted'],
  ])
  expect(t.up.requests.every((s) => s.aborted)).toBe(true)
})
