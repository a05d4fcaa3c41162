/** One Bridge behind several mounts (and several Koa apps) is one key pool. */
import { aibridge, createBridge, type Bridge } from '@aibridge/koa'
import Koa from 'koa'
import mount from 'koa-mount'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { anthropicAt, K1, K2, serve, type Served } from './helpers.js'
import { rateLimited, startUpstream, type Upstream } from './upstream.js'

async function post(url: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' })
  expect(res.status).toBe(200)
  return ((await res.json()) as { key: string }).key
}

let upstream: Upstream
let bridge: Bridge
const served: Served[] = []

beforeEach(async () => {
  upstream = await startUpstream()
  bridge = createBridge(anthropicAt(upstream.baseURL))
})
afterEach(async () => {
  await Promise.all(served.splice(0).map((s) => s.close()))
  await bridge.close()
  await upstream.close()
})

it('a key cooled through one mount is skipped by the other', async () => {
  const app = new Koa()
  const a = aibridge(bridge, { prefix: '/a' })
  const b = aibridge(bridge)
  expect(a.bridge).toBe(bridge)
  expect(b.bridge).toBe(bridge)
  app.use(a)
  app.use(mount('/b', b))
  const s = await serve(app)
  served.push(s)
  upstream.script(rateLimited(30))
  expect(await post(`${s.origin}/a/anthropic/v1/messages`)).toBe(K2)
  expect(await post(`${s.origin}/b/anthropic/v1/messages`)).toBe(K2)
  expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
  expect(bridge.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
})

it('two Koa apps in one process share the pool', async () => {
  const [one, two] = [new Koa(), new Koa()]
  one.use(aibridge(bridge, { prefix: '/ai' }))
  two.use(aibridge(bridge, { prefix: '/llm' }))
  const s1 = await serve(one)
  const s2 = await serve(two)
  served.push(s1, s2)
  upstream.script(rateLimited(30))
  expect(await post(`${s1.origin}/ai/anthropic/v1/messages`)).toBe(K2)
  expect(await post(`${s2.origin}/llm/anthropic/v1/messages`)).toBe(K2)
  expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
})
