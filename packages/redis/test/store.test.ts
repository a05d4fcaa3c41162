import type { KeyMark } from '@aibridge/core'
import { Redis as Redis5 } from 'ioredis5'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { within } from '../../../test/support/wait.js'
import { redisStore } from '../src/index.js'
import { deletePrefix, redisAvailable, REDIS_URL, sparePort, testClient, uniquePrefix } from './helpers/redis.js'
import { collectingLogger, eventually, permanent, storeTracker, temporary, untilMark } from './helpers/store.js'

const stores = storeTracker()
let admin: ReturnType<typeof testClient>
const prefixes: string[] = []
function prefix(name: string): string {
  const p = uniquePrefix(name)
  prefixes.push(p)
  return p
}
const K1 = 'k_00000000000000a1'
const K2 = 'k_00000000000000a2'

describe.skipIf(!redisAvailable)('redisStore against Redis', () => {
  beforeAll(() => {
    admin = testClient()
  })
  afterEach(() => stores.closeAll())
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(admin, p)
    admin.disconnect()
  })

  test('a mark is in the local copy at once, and in Redis under the prefix keyed by key id, expiring at its deadline', async () => {
    const p = prefix('basic')
    const a = stores.open({ url: REDIS_URL, prefix: p })
    await a.ready()
    const mark = temporary(30_000)
    a.mark('openai', K1, mark)
    expect(a.get('openai', K1)).toEqual(mark)
    const entry = `${p}{openai}:mark:${K1}`
    await eventually(async () => (await admin.exists(entry)) === 1)
    const held = await admin.hgetall(entry)
    expect(held).toMatchObject({ s: 'temporary', u: String(mark.until), a: String(mark.at) })
    expect(JSON.parse(held.m!)).toEqual(mark)
    const ttl = await admin.pttl(entry)
    expect(ttl).toBeGreaterThan(20_000)
    expect(ttl).toBeLessThanOrEqual(30_000)
    // The entry, the provider's index and version counter share the provider's hash tag.
    expect((await admin.keys(`${p}*`)).sort()).toEqual([`${p}providers`, `${p}{openai}:mark:${K1}`, `${p}{openai}:marks`, `${p}{openai}:version`])
  })

  test('a permanent mark with no deadline keeps no TTL, and reaches other instances as Infinity (announced and loaded)', async () => {
    const p = prefix('permanent')
    const a = stores.open({ url: REDIS_URL, prefix: p })
    const b = stores.open({ url: REDIS_URL, prefix: p })
    await Promise.all([a.ready(), b.ready()])
    const mark = permanent()
    a.mark('anthropic', K1, mark)
    await untilMark(b, 'anthropic', K1, (m) => m.state === 'permanent')
    expect(b.get('anthropic', K1)).toEqual(mark)
    expect(b.get('anthropic', K1)!.until).toBe(Infinity)
    expect(await admin.pttl(`${p}{anthropic}:mark:${K1}`)).toBe(-1)
    const c = stores.open({ url: REDIS_URL, prefix: p })
    await c.ready()
    expect(c.get('anthropic', K1)).toEqual(mark)
    // A permanent mark with a recheck time expires then.
    const rechecked = permanent(60_000)
    a.mark('anthropic', K2, rechecked)
    await untilMark(b, 'anthropic', K2, (m) => m.until === rechecked.until)
    expect(await admin.pttl(`${p}{anthropic}:mark:${K2}`)).toBeGreaterThan(50_000)
  })

  test('a mark and a reset reach another instance through pub/sub, and a reset removes the entry', async () => {
    const p = prefix('pubsub')
    const a = stores.open({ url: REDIS_URL, prefix: p })
    const b = stores.open({ url: REDIS_URL, prefix: p })
    await Promise.all([a.ready(), b.ready()])
    const mark = temporary(30_000)
    const t0 = Date.now()
    a.mark('openai', K1, mark)
    await untilMark(b, 'openai', K1, (m) => m.until === mark.until)
    const marked = Date.now() - t0
    const t1 = Date.now()
    b.clear('openai', K1)
    expect(b.get('openai', K1)).toBeUndefined()
    await untilMark(a, 'openai', K1, undefined)
    const cleared = Date.now() - t1
    console.log(`pub/sub in one process: a mark seen by another store after ${marked} ms, a reset after ${cleared} ms`)
    await eventually(async () => (await admin.exists(`${p}{openai}:mark:${K1}`)) === 0)
    expect(await admin.smembers(`${p}{openai}:marks`)).toEqual([])
  })

  test('longest wins across instances: a shorter cooldown never shortens a longer one, permanent beats temporary', async () => {
    const p = prefix('longest')
    const [a, b, c] = [0, 1, 2].map(() => stores.open({ url: REDIS_URL, prefix: p }))
    await Promise.all([a!.ready(), b!.ready(), c!.ready()])
    const long = temporary(30_000)
    const short = temporary(10_000)
    a!.mark('openai', K1, long)
    await untilMark(b!, 'openai', K1, (m) => m.until === long.until)
    b!.mark('openai', K1, short)
    // b's own view keeps the longer mark it already held (mergeMarks), and Redis keeps it too.
    expect(b!.get('openai', K1)!.until).toBe(long.until)
    const later = temporary(60_000)
    c!.mark('openai', K1, later)
    for (const s of [a!, b!, c!]) await untilMark(s, 'openai', K1, (m) => m.until === later.until)
    expect(JSON.parse((await admin.hget(`${p}{openai}:mark:${K1}`, 'm'))!)).toEqual(later)

    const auth = permanent()
    a!.mark('openai', K2, temporary(60_000))
    b!.mark('openai', K2, auth)
    for (const s of [a!, b!, c!]) await untilMark(s, 'openai', K2, (m) => m.state === 'permanent')
    c!.mark('openai', K2, temporary(120_000))
    await eventually(async () => a!.get('openai', K2)?.state === 'permanent' && (await admin.hget(`${p}{openai}:mark:${K2}`, 's')) === 'permanent')
    for (const s of [a!, b!, c!]) expect(s.get('openai', K2)).toEqual(auth)
  })

  test('many concurrent marks from three instances end with the latest deadline everywhere', async () => {
    const p = prefix('concurrent')
    const all = [0, 1, 2].map(() => stores.open({ url: REDIS_URL, prefix: p }))
    await Promise.all(all.map((s) => s.ready()))
    const now = Date.now()
    const marks: KeyMark[] = []
    for (let i = 0; i < 60; i++) {
      const until = now + 10_000 + Math.floor(Math.random() * 50_000)
      marks.push({ state: 'temporary', reason: 'rate_limited', until, at: now, status: 429 })
    }
    marks.forEach((m, i) => all[i % 3]!.mark('openai', K1, m))
    const longest = Math.max(...marks.map((m) => m.until))
    for (const s of all) await untilMark(s, 'openai', K1, (m) => m.until === longest)
    expect(Number(await admin.hget(`${p}{openai}:mark:${K1}`, 'u'))).toBe(longest)
  })

  test('an instance started after the marks holds them as soon as ready() resolves', async () => {
    const p = prefix('late')
    const a = stores.open({ url: REDIS_URL, prefix: p })
    await a.ready()
    const m1 = temporary(30_000)
    const m2 = permanent()
    a.mark('openai', K1, m1)
    a.mark('anthropic', K2, m2)
    a.mark('anthropic', K1, temporary(30_000))
    a.clear('anthropic', K1)
    await eventually(async () => (await admin.exists(`${p}{openai}:mark:${K1}`, `${p}{anthropic}:mark:${K2}`)) === 2 && (await admin.exists(`${p}{anthropic}:mark:${K1}`)) === 0)
    const late = stores.open({ url: REDIS_URL, prefix: p })
    await late.ready()
    expect(late.get('openai', K1)).toEqual(m1)
    expect(late.get('anthropic', K2)).toEqual(m2)
    expect(late.get('anthropic', K1)).toBeUndefined()
  })

  test('an instance of another prefix sees nothing', async () => {
    const a = stores.open({ url: REDIS_URL, prefix: prefix('one') })
    const b = stores.open({ url: REDIS_URL, prefix: prefix('two') })
    await Promise.all([a.ready(), b.ready()])
    a.mark('openai', K1, temporary(30_000))
    const c = stores.open({ url: REDIS_URL, prefix: prefixes.at(-1)! })
    await c.ready()
    expect(b.get('openai', K1)).toBeUndefined()
    expect(c.get('openai', K1)).toBeUndefined()
  })

  test('an announcement older than the state held, or not an announcement at all, changes nothing', async () => {
    const p = prefix('stale')
    const a = stores.open({ url: REDIS_URL, prefix: p })
    const b = stores.open({ url: REDIS_URL, prefix: p })
    await Promise.all([a.ready(), b.ready()])
    const mark = temporary(30_000)
    a.mark('openai', K1, mark)
    await eventually(async () => (await admin.exists(`${p}{openai}:mark:${K1}`)) === 1)
    const version = await admin.hget(`${p}{openai}:mark:${K1}`, 'v')
    await admin.publish(`${p}events`, JSON.stringify({ p: 'openai', k: K1, v: String(Number(version) - 1) }))
    await admin.publish(`${p}events`, 'not json')
    await admin.publish(`${p}events`, JSON.stringify({ p: 'openai', k: K1, v: '1', m: '{"state":"sideways"}' }))
    // Announcements arrive in order: once a later one is in, the ones above were read (and ignored).
    b.mark('openai', K2, temporary(30_000))
    await untilMark(a, 'openai', K2, (m) => m.state === 'temporary')
    expect(a.get('openai', K1)).toEqual(mark)
  })

  test('with { client }: the store uses the host client, opens one connection for pub/sub, and closes only that one', async () => {
    const p = prefix('client')
    const client = testClient()
    try {
      const a = redisStore({ client, prefix: p })
      const b = stores.open({ url: REDIS_URL, prefix: p })
      await Promise.all([a.ready(), b.ready()])
      a.mark('openai', K1, temporary(30_000))
      await untilMark(b, 'openai', K1, (m) => m.state === 'temporary')
      b.mark('openai', K2, permanent())
      await untilMark(a, 'openai', K2, (m) => m.state === 'permanent')
      await a.close()
      expect(client.status).toBe('ready')
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })

  test('with an ioredis 5 client too', async () => {
    const p = prefix('ioredis5')
    const client = new Redis5(REDIS_URL, { maxRetriesPerRequest: 1 })
    try {
      // The published types name the host's ioredis; this workspace's is 6.
      const a = redisStore({ client: client as never, prefix: p })
      const b = stores.open({ url: REDIS_URL, prefix: p })
      await Promise.all([a.ready(), b.ready()])
      a.mark('openai', K1, permanent())
      await untilMark(b, 'openai', K1, (m) => m.until === Infinity)
      b.clear('openai', K1)
      await untilMark(a, 'openai', K1, undefined)
      await a.close()
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })

  test('a logger that throws costs its lines only', async () => {
    const port = await sparePort()
    const throwing = { debug() {}, info() {}, warn: () => { throw new Error('transport down') }, error() {} }
    const s = stores.open({ url: `redis://127.0.0.1:${port}`, prefix: prefix('throwing'), logger: throwing, readyTimeoutMs: 300 })
    await within(s.ready(), 5000, 'ready()')
    s.mark('openai', K1, temporary(1000))
    expect(s.get('openai', K1)?.state).toBe('temporary')
  })
})

describe('redisStore when Redis is not there (fail-open)', () => {
  afterEach(() => stores.closeAll())

  test('ready() resolves after a bounded wait, one warning is logged, and the local copy serves marks and resets', async () => {
    const port = await sparePort()
    const log = collectingLogger()
    const s = stores.open({ url: `redis://127.0.0.1:${port}`, prefix: 'aibridge-test:down:', logger: log.logger, readyTimeoutMs: 500 })
    const t0 = Date.now()
    await within(s.ready(), 5000, 'ready()')
    console.log(`ready() with no Redis resolved after ${Date.now() - t0} ms (readyTimeoutMs 500)`)
    for (let i = 0; i < 20; i++) s.mark('openai', K1, temporary(30_000))
    expect(s.get('openai', K1)?.state).toBe('temporary')
    s.clear('openai', K1)
    expect(s.get('openai', K1)).toBeUndefined()
    s.mark('openai', K2, permanent())
    expect(s.get('openai', K2)?.until).toBe(Infinity)
    await new Promise((r) => setTimeout(r, 600))
    expect(log.count('warn')).toBe(1)
    expect(log.lines.find((l) => l.level === 'warn')!.msg).toBe('aibridge: redis unavailable; key state is shared again when it returns')
    await within(s.close(), 5000, 'close()')
  })
})

describe('redisStore options', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['neither url nor client', {}, /redisStore: give either url or client/],
    ['both url and client', { url: REDIS_URL, client: {} }, /give either url or client/],
    ['a url that is not redis', { url: 'http://127.0.0.1:6379' }, /url must use redis: or rediss:, got http:/],
    ['a url that is not a URL, not echoed', { url: 'redis//:s3cret@host' }, /^aibridge: redisStore: url is not a valid URL$/],
    ['a client that is not one', { client: { get() {} } }, /client must be an ioredis client or Cluster/],
    ['a prefix with an empty hash tag', { url: REDIS_URL, prefix: 'app:{}:' }, /prefix must not start a hash tag with an empty \{\}, got "app:\{\}:"/],
    ['a prefix that is not a string', { url: REDIS_URL, prefix: 1 }, /prefix must be a string, got 1/],
    ['an unknown option', { url: REDIS_URL, prefx: 'a:' }, /prefx is not an option/],
    ['a bad commandTimeoutMs', { url: REDIS_URL, commandTimeoutMs: 0 }, /commandTimeoutMs must be a positive number of milliseconds/],
    ['a bad readyTimeoutMs', { url: REDIS_URL, readyTimeoutMs: 'soon' }, /readyTimeoutMs must be a positive number of milliseconds/],
    ['console.log as a logger', { url: REDIS_URL, logger: console.log }, /logger must have debug, info, warn and error methods/],
  ]
  for (const [name, options, message] of cases) {
    test(name, () => {
      let err: unknown
      try {
        redisStore(options as never)
      } catch (e) {
        err = e
      }
      expect(err).toMatchObject({ name: 'AibridgeOptionError', code: 'AIBRIDGE_OPTION' })
      expect((err as Error).message).toMatch(message)
    })
  }
})
