// A Fastify app with a pool of LLM provider keys mounted under /ai.
//
//   ANTHROPIC_API_KEYS=sk-ant-...,sk-ant-... OPENAI_API_KEYS=sk-... node server.mjs   real providers
//   node server.mjs                                                                 local simulator, fake keys
//
// PORT (default 3000, 0 picks a free port) and HOST (default 127.0.0.1) set where it listens.
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { aibridge } from '@aibridge/fastify'
import { startSimulator } from '@aibridge/simulator'

/** The keys of a comma-separated variable; [] when it is unset or empty. */
function keyList(value) {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
}

/**
 * Providers from ANTHROPIC_API_KEYS / OPENAI_API_KEYS. When neither is set, a local simulated
 * Anthropic and OpenAI API with two fake keys each, so the app runs with no account and no network.
 */
async function providersFromEnv(env) {
  const anthropic = keyList(env.ANTHROPIC_API_KEYS)
  const openai = keyList(env.OPENAI_API_KEYS)
  if (anthropic.length > 0 || openai.length > 0) {
    const providers = {}
    if (anthropic.length > 0) providers.anthropic = { keys: anthropic }
    if (openai.length > 0) providers.openai = { keys: openai }
    return { providers, simulator: null }
  }
  const simulator = await startSimulator()
  const providers = {
    anthropic: { baseURL: simulator.anthropicBaseURL, keys: ['sk-ant-simulated-key-0001', 'sk-ant-simulated-key-0002'] },
    openai: { baseURL: simulator.openaiBaseURL, keys: ['sk-proj-simulated-key-0001', 'sk-proj-simulated-key-0002'] },
  }
  return { providers, simulator }
}

/** One log line per request. A record holds key hints only, never a key. */
export function formatRecord(r) {
  const servedBy = r.credentialKind === 'byok' ? 'byok' : r.outcome === 'exhausted' ? '-' : (r.credentialHint ?? '-')
  const tried = r.keysTried.length > 1 ? ` keys_tried=${r.keysTried.join(',')}` : ''
  return `[aibridge] ${r.provider} ${r.method} ${r.path} status=${r.status ?? '-'} outcome=${r.outcome} served_by=${servedBy}${tried} attempts=${r.attempts} ms=${r.durationMs}`
}

/**
 * Starts the app. `providers` overrides the environment (the demo passes its own keys and the
 * simulator's URLs); `onRecord` receives every request's record (default: one log line).
 * Resolves with `{ url, port, bridge, simulator, close }`; `simulator` is null with real providers.
 */
export async function start({ port = 0, host = '127.0.0.1', providers, onRecord, env = process.env } = {}) {
  const upstream = providers ? { providers, simulator: null } : await providersFromEnv(env)
  const log = onRecord ?? ((record) => console.log(formatRecord(record)))
  const app = Fastify()
  try {
    await app.register(aibridge, {
      prefix: '/ai',
      providers: upstream.providers,
      onInterception: log,
      // Fastify's own default is 1 MiB; requests with images or long contexts are larger.
      bodyLimit: 32 * 1024 * 1024,
    })
    // Key hints and states, never keys.
    app.get('/health', async () => ({ ok: true, keys: app.aibridge.keyStates() }))
    await app.listen({ port, host })
  } catch (err) {
    await app.close().catch(() => {}) // also closes the bridge the plugin created
    await upstream.simulator?.close()
    throw err
  }

  let closing
  const close = () =>
    (closing ??= (async () => {
      await app.close()
      await upstream.simulator?.close()
    })())

  port = app.server.address().port
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return { url: `http://${shownHost}:${port}`, port, bridge: app.aibridge, simulator: upstream.simulator, close }
}

/** What to tell the person who started the app: where the keys go, and how to point a client at it. */
export function banner(name, { url, bridge, simulator }) {
  const lines = [`aibridge ${name} example`]
  if (simulator) {
    lines.push(
      `  No ANTHROPIC_API_KEYS or OPENAI_API_KEYS set: using the local SIMULATOR at ${simulator.url}`,
      '  (simulated providers and fake keys; no real provider is called). Set the variables to use real keys.',
    )
  } else {
    lines.push('  Keys from ANTHROPIC_API_KEYS / OPENAI_API_KEYS: requests go to the real providers.')
  }
  // Hints (maskKey: 'sk-a...0001'), never keys.
  const states = bridge.keyStates()
  for (const [provider, keys] of Object.entries(states)) {
    lines.push(`  ${provider}: ${keys.length} key(s): ${keys.map((k) => k.hint).join(', ')}`)
  }
  lines.push('', `Listening on ${url}`)
  if (states.anthropic) lines.push(`  Anthropic SDK baseURL: ${url}/ai/anthropic`)
  if (states.openai) lines.push(`  OpenAI SDK baseURL:    ${url}/ai/openai/v1`)
  lines.push(`  Key states:            ${url}/health`, '', 'Try it (send no credential: the pool serves the request):')
  if (states.anthropic) {
    lines.push(
      `  curl ${url}/ai/anthropic/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\`,
      `    -d '{"model":"claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}'`,
    )
  }
  if (states.openai) {
    lines.push(
      `  curl -N ${url}/ai/openai/v1/chat/completions -H 'content-type: application/json' \\`,
      `    -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello"}]}'`,
    )
  }
  lines.push('', 'Each request is logged below, one line each. Ctrl-C stops.')
  return lines.join('\n')
}

async function main() {
  const port = Number(process.env.PORT || 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer from 0 to 65535, got '${process.env.PORT}'`)
  const app = await start({ port, host: process.env.HOST || '127.0.0.1' })
  console.log(banner('Fastify', app))
  const stop = () => app.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

// Run only when executed directly (node server.mjs), not when imported by the demo or a test.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err) => {
    // Option errors name the option, never the key; other errors carry no key either.
    console.error(`Could not start: ${err.message}`)
    process.exit(1)
  })
}
