// The servers under test, each in front of the mock provider at `upstream`. Each factory listens on
// 127.0.0.1, port 0, and resolves to { port, close }. aibridge is used only through its public API,
// imported with `aibridge('core' | 'express' | 'koa' | 'fastify')`: this tree's packages, or another
// build's for --baseline.
import http from 'node:http'
import { Pool } from 'undici'

/** The key the proxies inject; the mock answers it with 200. */
export const GOOD_KEY = 'sk-bench-GOOD-key-000000001'
/** The mock answers this key with 429 and Retry-After: 0. */
export const RATE_LIMITED_KEY = 'sk-bench-RATE-LIMITED-key-0001'

function listen(server, close) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: async () => {
          server.closeAllConnections()
          await new Promise((done) => server.close(done))
          await close?.()
        },
      }),
    )
  })
}

async function listenFastify(app) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
}

const providers = (upstream, keys = [GOOD_KEY]) => ({ anthropic: { keys, baseURL: upstream } })

/**
 * The floor: what any correct proxy pays. undici `Pool.dispatch` with handler callbacks writing to the
 * response, the request body streamed through, backpressure both ways (a full response pauses the
 * upstream until 'drain'), and a client that leaves aborts the upstream. No stream.pipeline, no
 * AbortController, no records.
 */
async function floor({ upstream }) {
  const pool = new Pool(upstream)
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, 'x-api-key': GOOD_KEY }
    // Hop-by-hop (RFC 9110 §7.6.1); undici refuses them and sets host and framing itself.
    delete headers.host
    delete headers.connection
    delete headers['keep-alive']
    delete headers['transfer-encoding']
    let controller = null
    let left = false
    const resume = () => controller.resume()
    res.on('close', () => {
      if (res.writableFinished) return
      left = true
      controller?.abort(new Error('client left'))
    })
    pool.dispatch(
      { path: req.url, method: req.method, headers, body: req },
      {
        onRequestStart(c) {
          controller = c
          if (left) c.abort(new Error('client left'))
        },
        onResponseStart(_c, status, upHeaders) {
          delete upHeaders.connection
          delete upHeaders['keep-alive']
          delete upHeaders['transfer-encoding']
          res.writeHead(status, upHeaders)
        },
        onResponseData(c, chunk) {
          if (!res.write(chunk)) {
            c.pause()
            res.once('drain', resume)
          }
        },
        onResponseEnd() {
          res.end()
        },
        onResponseError(_c, err) {
          if (res.headersSent) res.destroy(err)
          else {
            res.statusCode = 502
            res.end()
          }
        },
      },
    )
  })
  return listen(server, () => pool.close())
}

/** @fastify/http-proxy 11 on Fastify 5, forwarding /anthropic/* with the key added. */
async function fastifyHttpProxy({ upstream }) {
  const { default: Fastify } = await import('fastify')
  const { default: proxy } = await import('@fastify/http-proxy')
  const app = Fastify()
  await app.register(proxy, {
    upstream,
    prefix: '/anthropic',
    replyOptions: { rewriteRequestHeaders: (_req, headers) => ({ ...headers, 'x-api-key': GOOD_KEY }) },
  })
  return listenFastify(app)
}

/**
 * Express 5 with http-proxy-middleware 3, forwarding /anthropic/* with the key added. With a keep-alive
 * agent: http-proxy's default (`agent: false`) opens a connection per request, which no one tuning
 * for speed would keep, and which would make this anchor much slower.
 */
async function expressHpm({ upstream }, mount = '/anthropic') {
  const { default: express } = await import('express')
  const { createProxyMiddleware } = await import('http-proxy-middleware')
  const agent = new http.Agent({ keepAlive: true })
  const app = express()
  app.use(
    mount,
    createProxyMiddleware({ target: upstream, agent, on: { proxyReq: (proxyReq) => proxyReq.setHeader('x-api-key', GOOD_KEY) } }),
  )
  return listen(http.createServer(app), () => agent.destroy())
}

// What Express and Koa cost on their own: the mock's answer, fixed, after reading the request body.
// Their difference from `node-alone` is the framework's share of every middleware's cost per request.
const ALONE_BODY = Buffer.from(
  JSON.stringify({ id: 'msg_bench', type: 'message', role: 'assistant', model: 'claude-bench', content: [{ type: 'text', text: 'x'.repeat(512) }] }),
)
const ALONE_HEADERS = { 'content-type': 'application/json', 'content-length': String(ALONE_BODY.length), 'request-id': 'req_bench' }

function readThen(req, then) {
  req.on('data', () => {})
  req.on('end', then)
}

async function nodeAlone() {
  return listen(http.createServer((req, res) => readThen(req, () => res.writeHead(200, ALONE_HEADERS).end(ALONE_BODY))))
}

async function expressAlone() {
  const { default: express } = await import('express')
  const app = express()
  app.use((req, res) => readThen(req, () => res.writeHead(200, ALONE_HEADERS).end(ALONE_BODY)))
  return listen(http.createServer(app))
}

async function koaAlone() {
  const { default: Koa } = await import('koa')
  const app = new Koa()
  app.use(async (ctx) => {
    await new Promise((resolve) => readThen(ctx.req, resolve))
    ctx.set(ALONE_HEADERS)
    ctx.body = ALONE_BODY
  })
  return listen(http.createServer(app.callback()))
}

/**
 * What Express does to every request before any middleware runs, and nothing else: `req` and `res` get
 * new prototypes (`Object.setPrototypeOf`, as Express's `app.handle` does) and a property or two
 * (`req.res`, `res.locals`). Each object then has a hidden class of its own, so property access inside
 * Node's http code (and any code handed these objects) stops being cached. `bridge.handle` behind it
 * shows what that costs a middleware without the rest of Express.
 */
async function bridgeSwapped(ctx) {
  const { createBridge } = await ctx.aibridge('core')
  const bridge = createBridge({ providers: providers(ctx.upstream) })
  const request = Object.create(http.IncomingMessage.prototype)
  const response = Object.create(http.ServerResponse.prototype)
  const server = http.createServer((req, res) => {
    Object.setPrototypeOf(req, request)
    Object.setPrototypeOf(res, response)
    req.res = res
    res.locals = {}
    bridge.handle(req, res)
  })
  return listen(server, () => bridge.close())
}

async function bridgeOnNode({ upstream, aibridge: load, keys, store, onInterception }) {
  const { createBridge } = await load('core')
  const bridge = createBridge({ providers: providers(upstream, keys), store, onInterception })
  return listen(
    http.createServer((req, res) => bridge.handle(req, res)),
    () => bridge.close(),
  )
}

async function bridgeExpress({ upstream, aibridge: load }, mount) {
  const { default: express } = await import('express')
  const { aibridge } = await load('express')
  const ai = aibridge({ providers: providers(upstream) })
  const app = express()
  if (mount) app.use(mount, ai)
  else app.use(ai)
  return listen(http.createServer(app), () => ai.bridge.close())
}

async function bridgeKoa({ upstream, aibridge: load }) {
  const { default: Koa } = await import('koa')
  const { aibridge } = await load('koa')
  const ai = aibridge({ providers: providers(upstream) })
  const app = new Koa()
  app.use(ai)
  return listen(http.createServer(app.callback()), () => ai.bridge.close())
}

async function bridgeFastify({ upstream, aibridge: load }) {
  const { default: Fastify } = await import('fastify')
  const { aibridge } = await load('fastify')
  const app = Fastify()
  await app.register(aibridge, { providers: providers(upstream) })
  return listenFastify(app)
}

/**
 * The hook for @aibridge/redis (built separately): the one place that knows its API. Assumed:
 * `redisStore({ url, prefix })` returns a KeyStateStore, with an optional `ready()` for its first load.
 */
export async function redisStore(url) {
  const { redisStore: create } = await import('@aibridge/redis')
  const store = create({ url, prefix: 'aibridge-bench:' })
  await store.ready?.()
  return store
}

/**
 * Every target: `name` (for --only), `label` (printed), `start(context)`. `direct` has no proxy: the
 * load goes straight to the mock provider. `path` is what the load generator asks for. Targets whose
 * name starts with `bridge` get a twin `<name>@baseline` under --baseline unless `noBaseline`.
 */
export const TARGETS = [
  { name: 'direct', label: 'direct to the mock provider', path: '/v1/messages' },
  { name: 'floor', label: 'floor: undici Pool.dispatch on node:http', start: floor },
  { name: 'fastify-http-proxy', label: '@fastify/http-proxy 11', start: fastifyHttpProxy },
  { name: 'express-hpm', label: 'express 5 + http-proxy-middleware 3', start: expressHpm },
  { name: 'bridge', label: 'aibridge bridge.handle on node:http', start: bridgeOnNode },
  { name: 'bridge-express', label: 'aibridge Express middleware', start: bridgeExpress },
  { name: 'bridge-koa', label: 'aibridge Koa middleware', start: bridgeKoa },
  { name: 'bridge-fastify', label: 'aibridge Fastify plugin', start: bridgeFastify },
  // The Express pair under a mount path, as the README mounts aibridge (--mounted): Express's router
  // then strips the prefix from req.url for both.
  {
    name: 'express-hpm-mounted',
    label: "express 5 + http-proxy-middleware 3 at app.use('/ai/anthropic', ...)",
    path: '/ai/anthropic/v1/messages',
    start: (ctx) => expressHpm(ctx, '/ai/anthropic'),
    optIn: 'mounted',
  },
  {
    name: 'bridge-express-mounted',
    label: "aibridge Express middleware at app.use('/ai', ...)",
    path: '/ai/anthropic/v1/messages',
    start: (ctx) => bridgeExpress(ctx, '/ai'),
    optIn: 'mounted',
  },
  {
    // Someone reads the records: the model and token usage are read from every answer (the cost of usage accounting).
    name: 'bridge-records',
    label: 'aibridge bridge.handle, records read (onInterception: usage accounting on)',
    start: (ctx) => bridgeOnNode({ ...ctx, onInterception: () => {} }),
  },
  // Context, not proxies: a fixed answer with no upstream, on node:http, Express and Koa (--alone).
  { name: 'node-alone', label: 'node:http alone (a fixed answer, no upstream)', start: nodeAlone, optIn: 'alone' },
  { name: 'express-alone', label: 'express 5 alone (a fixed answer, no upstream)', start: expressAlone, optIn: 'alone' },
  { name: 'bridge-swapped', label: "aibridge bridge.handle on node:http, req/res prototypes swapped as Express does", start: bridgeSwapped, optIn: 'alone', noBaseline: true },
  { name: 'koa-alone', label: 'koa 3 alone (a fixed answer, no upstream)', start: koaAlone, optIn: 'alone' },
  {
    name: 'bridge-failover',
    label: 'aibridge failover every request (429, then 200)',
    start: (ctx) => bridgeOnNode({ ...ctx, keys: [RATE_LIMITED_KEY, GOOD_KEY] }),
  },
  {
    name: 'bridge-redis',
    label: 'aibridge bridge.handle + redisStore',
    optIn: 'redis',
    noBaseline: true,
    start: async (ctx) => bridgeOnNode({ ...ctx, store: await redisStore(ctx.redisUrl) }),
  },
]
