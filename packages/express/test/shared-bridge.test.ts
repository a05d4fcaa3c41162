/** One Bridge behind several mounts (and both Express majors) is one key pool. */
import { aibridge, createBridge, type Bridge } from '@aibridge/express'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { anthropicAt, flavours, K1, K2, serve, type Served } from './helpers.js'
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

describe.each(flavours)('$name', ({ express }) => {
  it('a key cooled through one mount is skipped by the other', async () => {
    const app = express()
    const a = aibridge(bridge)
    const b = aibridge(bridge)
    expect(a.bridge).toBe(bridge)
    expect(b.bridge).toBe(bridge)
    app.use('/a', a)
    app.use('/b', b)
    const s = await serve(app)
    served.push(s)
    upstream.script(rateLimited(30))
    expect(await post(`${s.origin}/a/anthropic/v1/messages`)).toBe(K2)
    expect(await post(`${s.origin}/b/anthropic/v1/messages`)).toBe(K2)
    expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
  })
})

it('express 5 and express 4 apps in one process share the pool', async () => {
  const [v5, v4] = flavours.map((f) => {
    const app = f.express()
    app.use('/ai', aibridge(bridge))
    return app
  })
  const s5 = await serve(v5!)
  const s4 = await serve(v4!)
  served.push(s5, s4)
  upstream.script(rateLimited(30))
  expect(await post(`${s5.origin}/ai/anthropic/v1/messages`)).toBe(K2)
  expect(await post(`${s4.origin}/ai/anthropic/v1/messages`)).toBe(K2)
  expect(upstream.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
})
