// Redis killed, restarted empty, and made slow while two host processes serve requests: no request
// fails or waits because of Redis, each outage is one warning, and afterwards the instances agree.
import { fingerprint, maskKey } from '@aibridge/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { echoKey, json, rateLimited, startUpstream, type Script, type Upstream } from '../../../test/support/upstream.js'
import { within } from '../../../test/support/wait.js'
import { redisStore } from '../src/index.js'
import { assertBuilt, startInstance, traffic, type Instance } from './helpers/instances.js'
import { redisServerAvailable, sparePort, startRedisServer, testClient, uniquePrefix, type RedisServer } from './helpers/redis.js'
import { collectingLogger, eventually, temporary } from './helpers/store.js'

const KEYS = ['sk-out-one-AAAAAAAAAAAAAAAAA-0001', 'sk-out-two-BBBBBBBBBBBBBBBBB-0002', 'sk-out-three-CCCCCCCCCCCCCCC-0003', 'sk-out-four-DDDDDDDDDDDDDDDD-0004']
const [K1, K2, K3] = KEYS as [string, string, string, string]
const id = (key: string): string => fingerprint(key)
const unauthorized = json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })
const BACK = 'aibridge: redis is back; key state resynced'

describe.skipIf(!redisServerAvailable)('a private redis-server killed, restarted and made slow under traffic', () => {
  const prefix = uniquePrefix('outage')
  let server: RedisServer
  let up: Upstream
  // Answers by instance and key (`A K2`), then echoKey.
  const scripted = new Map<string, Script[]>()
  let A: Instance, B: Instance

  beforeAll(async () => {
    assertBuilt()
    server = await startRedisServer()
    up = await startUpstream((seen, res, req) => (scripted.get(`${String(seen.headers['x-instance'])} ${seen.key}`)?.shift() ?? echoKey)(seen, res, req))
    const base = { upstream: up.url, redisUrl: server.url, prefix, keys: KEYS }
    ;[A, B] = await Promise.all([startInstance({ ...base, name: 'A', store: 'url' }), startInstance({ ...base, name: 'B', store: 'client' })])
  }, 60_000)

  afterAll(async () => {
    A?.kill()
    B?.kill()
    await up?.close()
    await server?.stop()
  })

  const infos = (i: Instance, msg: string) => i.logs.filter((l) => l.level === 'info' && l.msg === msg)

  test('killed mid-run: zero failed requests and one warning per instance; restarted empty: each writes its own outage marks and loads the other\'s', async () => {
    // Before the outage, a shared mark.
    scripted.set(`A ${K1}`, [rateLimited({ 'retry-after': '60' })])
    expect(await A.request()).toBe(200)
    expect(await (await B.watch(id(K1), 'temporary')).seen).not.toBeNull()

    const load = traffic([A, B])
    await eventually(() => load.results.length >= 10, 10_000, 'traffic before the kill')
    await server.kill()
    await eventually(() => A.warnings().length > 0 && B.warnings().length > 0, 10_000, 'both instances to notice the outage')

    // During the outage each instance learns something on its own: A a 30 s cooldown of K2; B a
    // shorter one of K2 (20 s), then a 401 of K3.
    scripted.set(`A ${K2}`, [rateLimited({ 'retry-after': '30' })])
    scripted.set(`B ${K2}`, [rateLimited({ 'retry-after': '20' })])
    scripted.set(`B ${K3}`, [unauthorized])
    await eventually(async () => (await A.state(id(K2))).state === 'temporary' && (await B.state(id(K3))).state === 'permanent', 10_000, 'the outage marks')
    const aK2 = await A.state(id(K2))
    expect((await A.state(id(K3))).state).toBe('valid')
    const served = load.results.length
    await eventually(() => load.results.length >= served + 20, 10_000, 'traffic during the outage')

    await server.restart()
    await eventually(() => infos(A, BACK).length === 1 && infos(B, BACK).length === 1, 10_000, 'both instances to resync')
    for (const i of [A, B]) {
      await eventually(async () => (await i.state(id(K3))).state === 'permanent' && (await i.state(id(K2))).until === aK2.until, 5000, `${i.name} to hold both outage marks`)
      // The mark from before the outage survives the restart that lost it in Redis.
      expect(await i.state(id(K1))).toMatchObject({ state: 'temporary', status: 429 })
    }
    const after = load.results.length
    await eventually(() => load.results.length >= after + 10, 10_000, 'traffic after the restart')
    await load.stop()

    console.log(`kill and restart: ${load.results.length} requests, ${load.failed().length} failed`)
    expect(load.failed()).toEqual([])
    expect(A.warnings()).toHaveLength(1)
    expect(B.warnings()).toHaveLength(1)
    expect(A.warnings()[0]!.msg).toBe('aibridge: redis unavailable; key state is shared again when it returns')

    // Redis holds the three marks again, by key id only.
    const admin = testClient(server.url)
    try {
      expect((await admin.keys(`${prefix}{openai}:mark:*`)).sort()).toEqual([id(K1), id(K2), id(K3)].map((k) => `${prefix}{openai}:mark:${k}`).sort())
      expect(await admin.pttl(`${prefix}{openai}:mark:${id(K3)}`)).toBe(-1)
    } finally {
      admin.disconnect()
    }
  })

  test('made slow (DEBUG SLEEP): requests do not wait for it, the instance that wrote warns once, and the mark spreads after', async () => {
    await A.reset(maskKey(K3))
    await eventually(async () => (await B.state(id(K3))).state === 'valid', 5000, 'the reset to reach B')
    const warningsBefore = [A.warnings().length, B.warnings().length]
    scripted.set(`A ${K3}`, [rateLimited({ 'retry-after': '30' })])

    const admin = testClient(server.url)
    let asleep = true
    const sleeping = admin.call('DEBUG', 'SLEEP', '3').finally(() => (asleep = false))
    try {
      await new Promise((r) => setTimeout(r, 100))
      const statuses: number[] = []
      const finishedAsleep: boolean[] = []
      for (let n = 0; n < 5; n++) {
        for (const i of [A, B]) {
          statuses.push(await i.request())
          finishedAsleep.push(asleep)
        }
      }
      expect(statuses.every((s) => s === 200)).toBe(true)
      // Every request ended while Redis was still asleep.
      expect(finishedAsleep).not.toContain(false)
      expect((await A.state(id(K3))).state).toBe('temporary')
      await within(sleeping, 10_000, 'DEBUG SLEEP to end')
    } finally {
      admin.disconnect()
    }
    await eventually(() => infos(A, BACK).length === 2, 10_000, 'A to resync after the slow spell')
    await eventually(async () => (await B.state(id(K3))).state === 'temporary', 5000, 'A\'s mark to reach B')
    expect(A.warnings()).toHaveLength(warningsBefore[0]! + 1)
    // B wrote nothing during the slow spell and lost no announcement: nothing to warn about.
    expect(B.warnings()).toHaveLength(warningsBefore[1]!)
    expect(await Promise.all([A.close(), B.close()])).toEqual([0, 0])
  })
})

describe.skipIf(!redisServerAvailable)('a store that starts before its Redis', () => {
  test('serves from local state, then writes what it learned and loads the rest once Redis is up', async () => {
    const port = await sparePort()
    const prefix = uniquePrefix('late-redis')
    const log = collectingLogger()
    const store = redisStore({ url: `redis://127.0.0.1:${port}`, prefix, logger: log.logger, readyTimeoutMs: 300 })
    let server: RedisServer | undefined
    try {
      await within(store.ready(), 5000, 'ready()')
      const mark = temporary(30_000)
      store.mark('openai', 'k_00000000000000b1', mark)
      server = await startRedisServer([], port)
      const admin = testClient(server.url)
      try {
        await eventually(async () => (await admin.exists(`${prefix}{openai}:mark:k_00000000000000b1`)) === 1, 10_000, 'the mark in Redis')
      } finally {
        admin.disconnect()
      }
      expect(log.count('warn')).toBe(1)
      await eventually(() => log.lines.some((l) => l.level === 'info' && l.msg === BACK))
      expect(store.get('openai', 'k_00000000000000b1')).toEqual(mark)
    } finally {
      await store.close()
      await server?.stop()
    }
  })
})
