/** One Bridge behind several mounts (and both Express majors) is one key pool. */
import { AibridgeOptionError, aibridge, createBridge, type Bridge } from '@aibridge/express'
import { beforeEach, describe, expect, it } from 'vitest'
import { keyServing, rateLimited } from '../../../test/support/upstream.js'
import { anthropicAt, flavours, K1, K2, setup } from './helpers.js'

const t = setup()
let bridge: Bridge

beforeEach(() => {
  bridge = t.own(createBridge(anthropicAt(t.up.url)))
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
    const origin = await t.serve(app)
    t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
    expect(await keyServing(`${origin}/a/anthropic/v1/messages`)).toBe(K2)
    expect(await keyServing(`${origin}/b/anthropic/v1/messages`)).toBe(K2)
    expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
  })

  it('a shared bridge takes a prefix as the second argument, like the Koa adapter', async () => {
    const app = express()
    app.use(aibridge(bridge, { prefix: '/ai' }))
    app.use((_req, res) => void res.status(404).send('app 404'))
    const origin = await t.serve(app)
    expect(await keyServing(`${origin}/ai/anthropic/v1/messages`)).toBe(K1)
    expect((await fetch(`${origin}/anthropic/v1/messages`, { method: 'POST', body: '{}' })).status).toBe(404)
  })
})

it('bad arguments are option errors naming what is wrong', () => {
  expect(() => aibridge(undefined as never)).toThrow(AibridgeOptionError)
  expect(() => aibridge(undefined as never)).toThrow('aibridge() takes bridge options or a Bridge, got undefined')
  expect(() => aibridge(bridge, '/ai' as never)).toThrow(`the second argument must be { prefix }, got "/ai"`)
  expect(() => aibridge({ ...anthropicAt(t.up.url), prefix: '/a' }, { prefix: '/b' })).toThrow('prefix is given twice')
})

it('express 5 and express 4 apps in one process share the pool', async () => {
  const [v5, v4] = flavours.map((f) => {
    const app = f.express()
    app.use('/ai', aibridge(bridge))
    return app
  })
  const s5 = await t.serve(v5!)
  const s4 = await t.serve(v4!)
  t.up.queue(rateLimited({ 'retry-after': '30' }, 'anthropic'))
  expect(await keyServing(`${s5}/ai/anthropic/v1/messages`)).toBe(K2)
  expect(await keyServing(`${s4}/ai/anthropic/v1/messages`)).toBe(K2)
  expect(t.up.requests.map((r) => r.headers['x-api-key'])).toEqual([K1, K2, K2])
})
