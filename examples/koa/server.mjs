// A Koa app with a pool of LLM provider keys mounted under /ai.
//
//   ANTHROPIC_API_KEYS=sk-ant-...,sk-ant-... OPENAI_API_KEYS=sk-... node server.mjs   real providers
//   node server.mjs                                                                 local simulator, fake keys
//
// PORT (default 3000, 0 picks a free port) and HOST (default 127.0.0.1) set where it listens.
// ../shared holds what every example does alike: keys or simulator, log line, banner, start and stop.
import Koa from 'koa'
import { bodyParser } from '@koa/bodyparser'
import { aibridge } from '@aibridge/koa'
import { startSimulator } from '@aibridge/simulator'
import { runIfMain } from '../shared/main.mjs'
import { serveHttp } from '../shared/serve-http.mjs'
import { startExample } from '../shared/start.mjs'

/** The app: aibridge under /ai, and one route of its own. */
function serve({ providers, onRecord, port, host }) {
  const ai = aibridge({ providers, onInterception: onRecord }, { prefix: '/ai' })
  const app = new Koa()
  app.on('error', (err) => {
    // Without this Koa prints a stack for every client that hangs up mid-response ("Premature close")
    // or mid-upload, and for every body the parser cannot read. Neither is the app's fault: aibridge has
    // recorded the first (client_aborted, or truncated when the provider died), the client got a 4xx
    // for the second. Server errors are still printed.
    if (err.headerSent || err.status < 500) return
    console.error(err)
  })
  // Before any body parser: aibridge then reads the request body itself, byte for byte, and can
  // replay it on the next key.
  app.use(ai)
  app.use(bodyParser())
  app.use(async (ctx, next) => {
    // Key hints and states, never keys.
    if (ctx.method === 'GET' && ctx.path === '/health') ctx.body = { ok: true, keys: ai.bridge.keyStates() }
    else await next()
  })
  return serveHttp(app.callback(), { port, host, bridge: ai.bridge })
}

/**
 * Starts the app: `start({ port, host, providers, onRecord })` resolves with
 * `{ url, port, bridge, simulator, close }` (see ../shared/start.mjs).
 */
export function start(options) {
  return startExample({ serve, startSimulator }, options)
}

runIfMain(import.meta.url, 'Koa', start)
