/** One Bridge behind several mounts (and several Koa apps) is one key pool. */
import { aibridge, createBridge, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import mount from 'koa-mount'
import { beforeEach, expect, it } from 'vitest'
import { keyServing, rateLimited } from '../../../test/support/upstream.js'
import { anthropicAt, K1, K2, setup } from './helpers.js'

const t = setup()
let bridge: Bridge

beforeEach(() => {
  bridge = t.own(createBridge(anthropicAt(t.up.url)))
})

it('a key cooled through one mount is skipped by the other', async () => {
  const app = new Koa()
  const a = aibridge(bridge, { prefix: '/a' })
  const b = aibridge(bridge)
  expect(a.bridge).toBe(bridge)
  expect(b.bridge).toBe(bridge)
  app.use(a)
  app.use(mount('/b', b))
  const origin = await t.serveApp(app)
  t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
  expect(await keyServing(`${origin}/a/anthropic/v1/messages`)).toBe(K2)
  expect(await keyServing(`${origin}/b/anthropic/v1/messages`)).toBe(K2)
  expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
  expect(bridge.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
})

it('two Koa apps in one process share the pool', async () => {
  const [one, two] = [new Koa(), new Koa()]
  one.use(aibridge(bridge, { prefix: '/ai' }))
  two.use(aibridge(bridge, { prefix: '/llm' }))
  const s1 = await t.serveApp(one)
  const s2 = await t.serveApp(two)
  t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
  expect(await keyServing(`${s1}/ai/anthropic/v1/messages`)).toBe(K2)
  expect(await keyServing(`${s2}/llm/anthropic/v1/messages`)).toBe(K2)
  expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
})
