// A node:http app whose key pool is read from a JSON file and reloaded on SIGHUP: edit the file, send
// the signal, and the next request is served by the new keys while requests in flight finish on the
// old ones (bridge.setKeys). No restart, no dropped request.
//
//   KEYS_FILE=keys.json node server.mjs     keys.json: { "anthropic": ["sk-ant-...", "sk-ant-..."], "openai": ["sk-..."] }
//   kill -HUP <pid>                         after editing keys.json (the pid is printed at start)
//   node server.mjs                         no KEYS_FILE: the local simulator, and a keys file in a temp directory
//
// Only the providers named in the file at start are served (their set is fixed when the bridge is
// created); ANTHROPIC_BASE_URL / OPENAI_BASE_URL point them elsewhere (a proxy, a compatible API).
// PORT (default 3000, 0 picks a free port) and HOST (default 127.0.0.1) set where it listens.
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createBridge } from '@aibridge/core'
import { startSimulator } from '@aibridge/simulator'
import { logRecord } from '../shared/record-log.mjs'
import { serveHttp } from '../shared/serve-http.mjs'

/** `{ provider: [key, ...] }` from the keys file. Throws with a message that holds no key. */
export function readKeys(file) {
  let parsed
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    // A JSON syntax error quotes the text around it, which may be a key: only its kind is shown.
    throw new Error(`${file} could not be read as JSON (${err.code ?? err.name})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file} must hold an object of key lists: { "openai": ["sk-..."] }`)
  return parsed
}

/**
 * Gives each provider the keys the file now lists (none when it no longer names the provider). A
 * provider whose new keys are refused keeps its old ones, and says why; the others are still updated.
 */
export function reloadKeys(bridge, file, log = console.log) {
  let keys
  try {
    keys = readKeys(file)
  } catch (err) {
    log(`[aibridge] keys not reloaded: ${err.message}; the current keys stay`)
    return false
  }
  let ok = true
  for (const provider of bridge.providerNames) {
    try {
      bridge.setKeys(provider, keys[provider] ?? [])
      log(`[aibridge] keys reloaded: ${provider}: ${describeKeys(bridge, provider)}`)
    } catch (err) {
      // setKeys errors name the option and the fault, never the key.
      log(`[aibridge] keys not reloaded for ${provider}: ${err.message}; its current keys stay`)
      ok = false
    }
  }
  for (const name of Object.keys(keys)) {
    if (!bridge.providerNames.includes(name)) log(`[aibridge] ${name} is new in the keys file: restart to serve it`)
  }
  return ok
}

/** Hints (maskKey: 'sk-a...0001'), never keys. */
function describeKeys(bridge, provider) {
  const keys = bridge.keyStates()[provider]
  return keys.length === 0 ? 'no keys' : `${keys.length} key(s): ${keys.map((k) => k.hint).join(', ')}`
}

/** The request target below `prefix` (`/ai/openai/v1/x` → `/openai/v1/x`), or undefined outside it. */
function below(prefix, url) {
  if (url === prefix || url.startsWith(`${prefix}?`)) return `/${url.slice(prefix.length)}`
  return url.startsWith(`${prefix}/`) ? url.slice(prefix.length) : undefined
}

const BASE_URL_VARS = { anthropic: 'ANTHROPIC_BASE_URL', openai: 'OPENAI_BASE_URL' }

/**
 * Starts the app: `start({ port, host, keysFile, env, onRecord })` resolves with
 * `{ url, port, bridge, keysFile, simulator, reload, close }`; `reload()` is what SIGHUP runs.
 */
export async function start({ port = 0, host = '127.0.0.1', keysFile, env = process.env, onRecord = logRecord, log = console.log } = {}) {
  let simulator = null
  let tempDir = null
  const baseURLs = {}
  if (!keysFile) {
    simulator = await startSimulator()
    tempDir = mkdtempSync(join(tmpdir(), 'aibridge-keys-'))
    keysFile = join(tempDir, 'keys.json')
    const simulated = {
      anthropic: ['sk-ant-simulated-key-0001', 'sk-ant-simulated-key-0002'],
      openai: ['sk-proj-simulated-key-0001', 'sk-proj-simulated-key-0002'],
    }
    writeFileSync(keysFile, JSON.stringify(simulated, null, 2) + '\n')
    baseURLs.anthropic = simulator.anthropicBaseURL
    baseURLs.openai = simulator.openaiBaseURL
  }
  let app
  try {
    const keys = readKeys(keysFile)
    const providers = {}
    for (const [name, list] of Object.entries(keys)) {
      const baseURL = baseURLs[name] ?? env[BASE_URL_VARS[name]]
      providers[name] = baseURL ? { keys: list, baseURL } : { keys: list }
    }
    const bridge = createBridge({ providers, onInterception: onRecord })
    const handler = (req, res) => {
      const path = below('/ai', req.url)
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, keys: bridge.keyStates() }))
      } else if (path === undefined) {
        res.writeHead(404).end()
      } else {
        bridge.handle(req, res, { path })
      }
    }
    app = await serveHttp(handler, { port, host, bridge })
  } catch (err) {
    await simulator?.close()
    if (tempDir) rmSync(tempDir, { recursive: true, force: true })
    throw err
  }
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shownHost}:${app.port}`,
    port: app.port,
    bridge: app.bridge,
    keysFile,
    simulator,
    reload: () => reloadKeys(app.bridge, keysFile, log),
    async close() {
      await app.close()
      await simulator?.close()
      if (tempDir) rmSync(tempDir, { recursive: true, force: true })
    },
  }
}

async function main() {
  const port = Number(process.env.PORT || 3000)
  const app = await start({ port, host: process.env.HOST || '127.0.0.1', keysFile: process.env.KEYS_FILE })
  const lines = ['aibridge key-reload example']
  if (app.simulator) lines.push(`  No KEYS_FILE set: using the local SIMULATOR at ${app.simulator.url} (fake keys; no real provider is called).`)
  lines.push(`  Keys from ${app.keysFile}; edit it, then: kill -HUP ${process.pid}`)
  for (const provider of app.bridge.providerNames) lines.push(`  ${provider}: ${describeKeys(app.bridge, provider)}`)
  lines.push('', `Listening on ${app.url}`)
  for (const provider of app.bridge.providerNames) lines.push(`  ${provider}: ${app.url}/ai/${provider}`)
  lines.push(`  Key states: ${app.url}/health`, '', 'Each request is logged below, one line each. Ctrl-C stops.')
  // Before the banner: whoever reads "Listening on" may send SIGHUP at once.
  process.on('SIGHUP', () => app.reload())
  console.log(lines.join('\n'))
  const stop = () => app.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().catch((err) => {
    console.error(`Could not start: ${err.message}`)
    process.exit(1)
  })
}
