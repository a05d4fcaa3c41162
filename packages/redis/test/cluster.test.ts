// Redis Cluster: three masters started here from the machine's redis-server. Every key of one
// provider carries the provider's hash tag, so the scripts touch one slot; providers spread over nodes.
import { createServer } from 'node:http'
import { createBridge, fingerprint, type Bridge } from '@aibridge/core'
import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { closeServer, listen } from '../../../test/support/http.js'
import { echoKey, rateLimited, startUpstream, type Upstream } from '../../../test/support/upstream.js'
import { redisServerAvailable, startCluster, uniquePrefix, type TestCluster } from './helpers/redis.js'
import { eventually, permanent, storeTracker, temporary, untilMark } from './helpers/store.js'

const PROVIDERS = ['openai', 'anthropic', 'groq', 'mistral', 'together', 'fireworks']
const K1 = 'k_00000000000000c1'
const K2 = 'k_00000000000000c2'

describe.skipIf(!redisServerAvailable)('redisStore on a three-master Redis Cluster', () => {
  let cluster: TestCluster
  const clients: Cluster[] = []
  const stores = storeTracker()
  const client = (): Cluster => {
    const c = cluster.client()
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    cluster = await startCluster()
  }, 60_000)

  afterAll(async () => {
    await stores.closeAll()
    for (const c of clients) c.disconnect()
    await cluster?.stop()
  })

  test("a provider's entry, index and version share one slot; the providers sit on different masters", async () => {
    const admin = client()
    const p = uniquePrefix('slots')
    const slotOf = async (key: string): Promise<number> => Number(await admin.call('CLUSTER', 'KEYSLOT', key))
    const masters = new Set<string>()
    const slots = (await admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>
    for (const provider of PROVIDERS) {
      const keys = [`${p}{${provider}}:mark:${K1}`, `${p}{${provider}}:mark:${K2}`, `${p}{${provider}}:marks`, `${p}{${provider}}:version`]
      const s = await Promise.all(keys.map(slotOf))
      expect(new Set(s).size).toBe(1)
      const owner = slots.find(([from, to]) => s[0]! >= from && s[0]! <= to)!
      masters.add(String(owner[2][1]))
    }
    expect(masters.size).toBeGreaterThan(1)
  })

  test('marks, longest wins, resets and loading work across instances for providers on every master', async () => {
    const p = uniquePrefix('cluster')
    const a = stores.open({ client: client(), prefix: p })
    const b = stores.open({ client: client(), prefix: p })
    await Promise.all([a.ready(), b.ready()])
    for (const provider of PROVIDERS) {
      const long = temporary(30_000)
      a.mark(provider, K1, long)
      b.mark(provider, K1, temporary(10_000))
      b.mark(provider, K2, permanent())
    }
    for (const provider of PROVIDERS) {
      for (const s of [a, b]) {
        await untilMark(s, provider, K1, (m) => m.until - m.at === 30_000)
        await untilMark(s, provider, K2, (m) => m.until === Infinity)
      }
    }
    a.clear('groq', K2)
    await untilMark(b, 'groq', K2, undefined)

    const late = stores.open({ client: client(), prefix: p })
    await late.ready()
    for (const provider of PROVIDERS) {
      expect(late.get(provider, K1)?.until).toBe(a.get(provider, K1)!.until)
      expect(late.get(provider, K2)?.until).toBe(provider === 'groq' ? undefined : Infinity)
    }
  })

  test('a prefix with a hash tag of its own puts every provider in one slot, and works', async () => {
    const tag = uniquePrefix('tagged').replace('aibridge-test:', '')
    const p = `{${tag}}:aibridge:`
    const a = stores.open({ client: client(), prefix: p })
    const b = stores.open({ client: client(), prefix: p })
    await Promise.all([a.ready(), b.ready()])
    for (const provider of PROVIDERS) a.mark(provider, K1, temporary(30_000))
    for (const provider of PROVIDERS) await untilMark(b, provider, K1, (m) => m.state === 'temporary')
    const admin = client()
    const slots = await Promise.all(PROVIDERS.map((provider) => admin.call('CLUSTER', 'KEYSLOT', `${p}{${provider}}:mark:${K1}`)))
    expect(new Set(slots).size).toBe(1)
    const late = stores.open({ client: client(), prefix: p })
    await late.ready()
    for (const provider of PROVIDERS) expect(late.get(provider, K1)?.state).toBe('temporary')
  })

  test('the scripts are reloaded on a master that lost them (SCRIPT FLUSH)', async () => {
    const p = uniquePrefix('flush')
    const admin = client()
    const a = stores.open({ client: client(), prefix: p })
    const b = stores.open({ client: client(), prefix: p })
    await Promise.all([a.ready(), b.ready()])
    a.mark('openai', K1, temporary(30_000))
    await untilMark(b, 'openai', K1, (m) => m.state === 'temporary')
    await Promise.all(admin.nodes('master').map((n) => n.script('FLUSH')))
    for (const provider of PROVIDERS) a.mark(provider, K2, temporary(30_000))
    for (const provider of PROVIDERS) await untilMark(b, provider, K2, (m) => m.state === 'temporary')
  })

  test('two bridges on the cluster: a 429 seen by one is skipped by the other', async () => {
    const p = uniquePrefix('bridges')
    const up: Upstream = await startUpstream(echoKey)
    const keys = ['sk-cluster-one-AAAAAAAAAAAAAA-0001', 'sk-cluster-two-BBBBBBBBBBBBBB-0002']
    const bridges: Bridge[] = [0, 1].map(() => createBridge({ providers: { openai: { keys, baseURL: up.url } }, store: stores.open({ client: client(), prefix: p }) }))
    try {
      await Promise.all(bridges.map((b) => b.ready()))
      up.queue(rateLimited({ 'retry-after': '30' }))
      const post = async (b: Bridge): Promise<void> => {
        const server = createServer((req, res) => b.handle(req, res))
        const url = await listen(server)
        try {
          const res = await fetch(`${url}/openai/v1/chat/completions`, { method: 'POST', body: '{}' })
          expect(res.status).toBe(200)
          await res.arrayBuffer()
        } finally {
          await closeServer(server)
        }
      }
      await post(bridges[0]!)
      await eventually(() => bridges[1]!.keyStates().openai![0]!.state === 'temporary', 5000, 'the mark on the second bridge')
      await post(bridges[1]!)
      expect(up.requests.map((s) => s.key)).toEqual([keys[0], keys[1], keys[1]])
      expect(bridges[1]!.keyStates().openai![0]!.id).toBe(fingerprint(keys[0]!))
    } finally {
      await Promise.all(bridges.map((b) => b.close()))
      await up.close()
    }
  })
})
