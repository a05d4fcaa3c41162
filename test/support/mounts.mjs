// The four ways a host serves a bridge, in plain JavaScript for the scripts that node runs on the built
// packages (the fuzz run and the soak); the conformance suite's TypeScript mounts (test/mounts) cover
// more variants. Each serves `bridge` under `prefix` on 127.0.0.1 and a free port, and answers
// `GET {prefix}/_host/ping` itself, so a host route behind the bridge is reached through the framework.
// `onHostError` hears what a framework reports on its own error channel (Koa's app 'error').
import http from 'node:http'
import { aibridge as expressAibridge } from '@aibridge/express'
import { aibridge as fastifyAibridge } from '@aibridge/fastify'
import { aibridge as koaAibridge } from '@aibridge/koa'
import express from 'express'
import Fastify from 'fastify'
import Koa from 'koa'

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

function closeServer(server) {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

/** `bridge.handle(req, res, { path, next })` in a node:http server, the prefix stripped by hand. */
async function node(bridge, { prefix }) {
  const ping = `${prefix}/_host/ping`
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    const host = () => {
      if (req.method === 'GET' && url.split('?')[0] === ping) res.writeHead(200, { 'content-type': 'application/json' }).end('{"host":"node"}')
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('host 404')
    }
    if (prefix !== '' && url !== prefix && !url.startsWith(prefix + '/') && !url.startsWith(prefix + '?')) return host()
    void bridge.handle(req, res, { path: url.slice(prefix.length) || '/', next: host })
  })
  return { server, port: await listen(server), close: () => closeServer(server) }
}

/** Express 5: `app.use(prefix, aibridge(bridge))`. */
async function expressApp(bridge, { prefix }) {
  const app = express()
  if (prefix === '') app.use(expressAibridge(bridge))
  else app.use(prefix, expressAibridge(bridge))
  app.get(`${prefix}/_host/ping`, (_req, res) => res.json({ host: 'express' }))
  const server = http.createServer(app)
  return { server, port: await listen(server), close: () => closeServer(server) }
}

/** Koa 3: `app.use(aibridge(bridge, { prefix }))`. */
async function koaApp(bridge, { prefix, onHostError = () => {} }) {
  const app = new Koa()
  app.use(koaAibridge(bridge, { prefix }))
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== `${prefix}/_host/ping`) return next()
    ctx.body = { host: 'koa' }
  })
  // Streams that fail after the headers (a client leaving, a provider dying) are reported here; the
  // bridge has recorded them already.
  app.on('error', onHostError)
  const server = http.createServer(app.callback())
  return { server, port: await listen(server), close: () => closeServer(server) }
}

/** Fastify 5: `app.register(aibridge, { bridge, prefix })`. */
async function fastifyApp(bridge, { prefix }) {
  const app = Fastify({ forceCloseConnections: true })
  app.get(`${prefix}/_host/ping`, async () => ({ host: 'fastify' }))
  await app.register(fastifyAibridge, { bridge, prefix })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { server: app.server, port: app.server.address().port, close: () => app.close() }
}

/** name -> start(bridge, { prefix, onHostError }) resolving to { server, port, close() }. */
export const MOUNTS = { node, express: expressApp, koa: koaApp, fastify: fastifyApp }
