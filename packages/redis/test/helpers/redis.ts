/**
 * The Redis these tests run against: the machine's on 127.0.0.1:6379 (each test with a prefix of its
 * own), and private `redis-server` processes on spare ports for faults and Redis Cluster. Without
 * them the tests skip, saying so; with CI=true they fail instead (see test/support/redis.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis } from 'ioredis'
import { answersPing, REDIS_URL, skipOrFail } from '../../../../test/support/redis.js'
import { sleep } from '../../../../test/support/wait.js'

export { redisAvailable } from '../../../../test/support/redis.js'
export { REDIS_URL }

/** `redis-server` can be started here (faults and cluster tests start their own). */
export const redisServerAvailable =
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0 || skipOrFail('no redis-server on the PATH')

/** A prefix no other test (or earlier run) uses. */
export function uniquePrefix(name: string): string {
  return `aibridge-test:${name}:${randomBytes(4).toString('hex')}:`
}

/** Deletes every key under `prefix` (on every master of a cluster). */
export async function deletePrefix(client: Redis | Cluster, prefix: string): Promise<void> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client]
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      for (const key of keys) await node.del(key)
    } while (cursor !== '0')
  }
}

/** Every key under `prefix` with its hash fields, as Redis holds them. */
export async function dumpPrefix(client: Redis, prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      const type = await client.type(key)
      out[key] = type === 'hash' ? await client.hgetall(key) : type === 'set' ? await client.smembers(key) : await client.get(key)
    }
  } while (cursor !== '0')
  return out
}

/** A client for a test's own use; closed by the caller. */
export function testClient(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 })
}

/** A port free now, and (for a cluster node) with its bus port (+10000) free too. */
export async function sparePort(withBus = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number }
        s.close(() => resolve(p))
      })
    })
    if (!withBus || port + 10000 > 65535) {
      if (!withBus) return port
      continue
    }
    const busFree = await new Promise<boolean>((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port + 10000, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (busFree) return port
  }
}

export interface RedisServer {
  port: number
  url: string
  /** SIGKILL: no goodbye to clients, as in a crash. */
  kill(): Promise<void>
  /** Starts it again on the same port, empty (nothing is saved). */
  restart(): Promise<void>
  stop(): Promise<void>
}

async function untilAnswers(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await answersPing(port))) {
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within ${timeoutMs} ms`)
    await sleep(20)
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** A private `redis-server` that keeps nothing on disk, with DEBUG enabled (for DEBUG SLEEP). */
export async function startRedisServer(extra: string[] = [], port?: number): Promise<RedisServer> {
  const p = port ?? (await sparePort())
  const dir = mkdtempSync(join(tmpdir(), 'aibridge-redis-'))
  let child: ChildProcess
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--enable-debug-command', 'yes', ...extra], {
      stdio: 'ignore',
    })
    await untilAnswers(p)
  }
  await start()
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    async kill() {
      child.kill('SIGKILL')
      await exited(child)
    },
    restart: start,
    async stop() {
      child.kill('SIGKILL')
      await exited(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface TestCluster {
  nodes: { host: string; port: number }[]
  client(): Cluster
  stop(): Promise<void>
}

/** Three masters, no replicas, started from the machine's redis-server on spare ports. */
export async function startCluster(): Promise<TestCluster> {
  const servers: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    const port = await sparePort(true)
    servers.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'], port))
  }
  const addresses = servers.map((s) => `127.0.0.1:${s.port}`)
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  const deadline = Date.now() + 20_000
  for (const s of servers) {
    const c = testClient(s.url)
    try {
      while (!String(await c.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error('the test cluster did not reach cluster_state:ok')
        await sleep(50)
      }
    } finally {
      c.disconnect()
    }
  }
  const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }))
  return {
    nodes,
    client: () => new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } }),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()))
    },
  }
}
