// A Fastify app with a pool of LLM provider keys mounted under /ai.
//
//   ANTHROPIC_API_KEYS=sk-ant-...,sk-ant-... OPENAI_API_KEYS=sk-... node server.mjs   real providers
//   node server.mjs                                                                 local simulator, fake keys
//
// PORT (default 3000, 0 picks a free port) and HOST (default 127.0.0.1) set where it listens.
// ../shared holds what every example does alike: keys or simulator, log line, banner, start and stop.
import Fastify from 'fastify'
import { aibridge } from '@aibridge/fastify'
import { startSimulator } from '@aibridge/simulator'
import { runIfMain } from '../shared/main.mjs'
import { startExample } from '../shared/start.mjs'

/** The app: aibridge under /ai, and one route of its own. */
async function serve({ providers, onRecord, port, host }) {
  // forceCloseConnections: close() also ends responses still streaming (a client reading slowly, a
  // long generation), so Ctrl-C and SIGTERM stop the app at once; each such request is recorded as
  // client_aborted and its upstream request aborted.
  const app = Fastify({ forceCloseConnections: true })
  try {
    await app.register(aibridge, {
      prefix: '/ai',
      providers,
      onInterception: onRecord,
      // Fastify's own default is 1 MiB; requests with images or long contexts are larger.
      bodyLimit: 32 * 1024 * 1024,
    })
    // Key hints and states, never keys.
    app.get('/health', async () => ({ ok: true, keys: app.aibridge.keyStates() }))
    await app.listen({ port, host })
  } catch (err) {
    await app.close().catch(() => {}) // also closes the bridge the plugin created
    throw err
  }
  return { port: app.server.address().port, bridge: app.aibridge, close: () => app.close() }
}

/**
 * Starts the app: `start({ port, host, providers, onRecord })` resolves with
 * `{ url, port, bridge, simulator, close }` (see ../shared/start.mjs).
 */
export function start(options) {
  return startExample({ serve, startSimulator }, options)
}

runIfMain(import.meta.url, 'Fastify', start)
