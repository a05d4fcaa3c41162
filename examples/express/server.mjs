// An Express app with a pool of LLM provider keys mounted under /ai.
//
//   ANTHROPIC_API_KEYS=sk-ant-...,sk-ant-... OPENAI_API_KEYS=sk-... node server.mjs   real providers
//   node server.mjs                                                                 local simulator, fake keys
//
// PORT (default 3000, 0 picks a free port) and HOST (default 127.0.0.1) set where it listens.
// ../shared holds what every example does alike: keys or simulator, log line, banner, start and stop.
import express from 'express'
import { aibridge } from '@aibridge/express'
import { startSimulator } from '@aibridge/simulator'
import { runIfMain } from '../shared/main.mjs'
import { serveHttp } from '../shared/serve-http.mjs'
import { startExample } from '../shared/start.mjs'

/** The app: aibridge under /ai, and one route of its own. */
function serve({ providers, onRecord, port, host }) {
  const ai = aibridge({ providers, onInterception: onRecord })
  const app = express()
  // Before any body parser: aibridge then reads the request body itself, byte for byte, and can
  // replay it on the next key.
  app.use('/ai', ai)
  app.use(express.json())
  // Key hints and states, never keys.
  app.get('/health', (_req, res) => res.json({ ok: true, keys: ai.bridge.keyStates() }))
  return serveHttp(app, { port, host, bridge: ai.bridge })
}

/**
 * Starts the app: `start({ port, host, providers, onRecord })` resolves with
 * `{ url, port, bridge, simulator, close }` (see ../shared/start.mjs).
 */
export function start(options) {
  return startExample({ serve, startSimulator }, options)
}

runIfMain(import.meta.url, 'Express', start)
