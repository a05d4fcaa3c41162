/**
 * The published declarations, as a user's TypeScript project sees them: a consumer file importing the
 * built packages by name (ESM and CommonJS conditions) is compiled with `tsc` in strict mode. Every
 * documented way to mount must compile, and misuse must not (`@ts-expect-error` fails when it does).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'

const here = fileURLToPath(new URL('.', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

const CONSUMER = `
import express from 'express'
import Koa from 'koa'
import Fastify from 'fastify'
import { createBridge, maskKey, statusPage, type InterceptionRecord, type KeyOptions, type Outcome } from '@aibridge/core'
import { prometheus } from '@aibridge/prometheus'
import { Registry } from 'prom-client'
import expressBridge, { aibridge as expressNamed, type AibridgeExpressOptions } from '@aibridge/express'
import koaBridge from '@aibridge/koa'
import fastifyBridge from '@aibridge/fastify'
import { redisStore, type RedisStoreOptions } from '@aibridge/redis'
import { Cluster, Redis } from 'ioredis'
import OpenAI from 'openai'

const providers = { anthropic: { keys: ['k1-aaaaaaaaaaaaaaaaaaaa'] }, openai: { keys: ['k2-bbbbbbbbbbbbbbbbbbbb'] } }
const seen: Outcome[] = []
const onInterception = (r: InterceptionRecord): void => { seen.push(r.outcome) }

const app = express()
app.use('/ai', expressBridge({ providers, onInterception }))
app.use(expressNamed({ prefix: '/gw', providers }))
const opts: AibridgeExpressOptions = { prefix: '/x', providers }
const mw = expressBridge(opts)
mw.bridge.keyStates()
// @ts-expect-error prefix is a string
expressBridge({ prefix: 1, providers })

const shared = createBridge({ providers })
const koa = new Koa()
koa.use(koaBridge(shared, { prefix: '/ai' }))
koa.use(koaBridge({ prefix: '/ai', providers }))
// @ts-expect-error providers is required
koa.use(koaBridge({ prefix: '/ai' }))

const fastify = Fastify()
void fastify.register(fastifyBridge, { prefix: '/ai', providers })
void fastify.register(fastifyBridge, { prefix: '/shared', bridge: shared })
shared.resetKey('anthropic', maskKey('k1-aaaaaaaaaaaaaaaaaaaa'))
const o: Outcome = 'internal_error'
void o

const storeOptions: RedisStoreOptions = { url: 'redis://127.0.0.1:6379', prefix: 'app:aibridge:', commandTimeoutMs: 200 }
const sharedState = createBridge({ providers, store: redisStore(storeOptions) })
void sharedState.ready().then(() => sharedState.close())
redisStore({ client: new Redis({ lazyConnect: true }), logger: console })
redisStore({ client: new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true }) })
// @ts-expect-error commandTimeoutMs is a number of milliseconds
redisStore({ url: 'redis://127.0.0.1:6379', commandTimeoutMs: '200' })
const exporter = prometheus(shared, { registry: new Registry(), prefix: 'gw_', maxModels: 20 })
exporter.stop()
prometheus(shared)
const page = statusPage(shared, { authorize: (req) => req.headers['x-operator'] === 'yes' })
app.get('/ai/status', page)
koa.use((ctx) => page(ctx.req, ctx.res))
fastify.get('/ai/status', (req, reply) => page(req.raw, reply.raw))
page.stop()
statusPage(shared, { authorize: 'public' })
// @ts-expect-error authorize is required
statusPage(shared, {})
// @ts-expect-error a registry, not a string
prometheus(shared, { registry: 'default' })
// A pool that spans Azure resources: each key brings its endpoint (and, here, a header of its own).
const keyOptions: KeyOptions = { key: 'k3-cccccccccccccccccccc', baseURL: 'https://eastus.example.openai.azure.com', headers: { 'x-tenant': 'a' } }
const spanning = createBridge({ providers: { azure: { keys: [keyOptions, { key: 'k4-dddddddddddddddddddd', baseURL: 'https://sweden.example.openai.azure.com' }] } } })
const origin: string | undefined = spanning.keyStates().azure?.[0]?.origin
void origin
// @ts-expect-error a key object names its key 'key'
createBridge({ providers: { azure: { keys: [{ secret: 'k5-eeeeeeeeeeeeeeeeeeee' }] } } })
// In-process SDK calls, keys at run time, host tokens.
const viaPool = new OpenAI({ apiKey: 'pool', fetch: shared.fetch('openai') })
void viaPool
shared.setKeys('openai', ['k3-cccccccccccccccccccc'])
createBridge({ providers, authenticate: async (token) => (token === 't' ? { id: 'u', plan: 'pro' } : null) })
// @ts-expect-error a principal needs an id
createBridge({ providers, authenticate: () => ({ name: 'x' }) })
`

let dir: string

beforeAll(async () => {
  // Inside test/ so the workspace's node_modules (the built @aibridge packages, the frameworks) resolve.
  dir = await mkdtemp(join(here, '.types-'))
  await writeFile(join(dir, 'consumer.mts'), CONSUMER)
  await writeFile(join(dir, 'consumer.cts'), CONSUMER)
  // ioredis 6's own declarations import the untyped 'redis-errors': without skipLibCheck (kept off
  // here so aibridge's declarations are checked in full) a project needs this one line.
  await writeFile(join(dir, 'shims.d.ts'), "declare module 'redis-errors'\n")
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

// One program per module system: a project is either ESM or CommonJS, and both declaration files
// augment FastifyInstance, which TypeScript rejects when it sees the two in one program.
it.each(['consumer.mts', 'consumer.cts'])('the built declarations accept every documented mount and reject misuse (%s)', async (file) => {
  const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--esModuleInterop', '--types', 'node']
  const run = promisify(execFile)
  const result = await run(process.execPath, [tsc, ...args, join(dir, file), join(dir, 'shims.d.ts')], { cwd: dir }).then(
    ({ stdout }) => ({ code: 0, out: stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
  )
  expect(result.out).toBe('')
  expect(result.code).toBe(0)
}, 120_000)
