import { aibridge } from '@aibridge/koa'
import Koa from 'koa'
import http from 'node:http'
import { createRequire } from 'node:module'
import { closeServer, listen } from '../support/http.js'
import type { Mount } from './types.js'

// @koa/bodyparser is a devDependency of @aibridge/koa only, so it is resolved from there.
const { bodyParser } = createRequire(new URL('../../packages/koa/package.json', import.meta.url))('@koa/bodyparser') as {
  bodyParser(options?: { jsonLimit?: number; formLimit?: number; textLimit?: number }): Koa.Middleware
}

/** Koa 3: `app.use(aibridge(bridge, { prefix }))`, with `@koa/bodyparser` in front when the host parses bodies. */
export const koaMount: Mount = {
  name: 'koa',
  async start(bridge, { prefix, hostParser, bodyLimit }) {
    const app = new Koa()
    // The parser's own limits (1 MB for JSON) would answer first with its own 413; a host limit well
    // above the bridge's leaves the provider-shaped 413 to the bridge.
    if (hostParser) app.use(bodyParser({ jsonLimit: 2 * bodyLimit, formLimit: 2 * bodyLimit, textLimit: 2 * bodyLimit }))
    app.use(aibridge(bridge, { prefix: prefix ?? '' }))
    // Registered after aibridge: reached only when it calls next().
    const ping = `${prefix ?? ''}/_host/ping`
    app.use(async (ctx, next) => {
      if (ctx.method !== 'GET' || ctx.path !== ping) return next()
      ctx.body = { host: 'koa' }
    })
    // Streams that fail after the headers (a client leaving, a provider dying) are reported here;
    // the bridge has already recorded them.
    app.on('error', () => {})
    const server = http.createServer(app.callback())
    return { baseURL: `${await listen(server)}${prefix ?? ''}`, close: () => closeServer(server) }
  },
}
