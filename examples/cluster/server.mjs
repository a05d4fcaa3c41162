// Several worker processes (node:cluster) behind one port, sharing key state through Redis: a key
// that one worker sees rate-limited is skipped by every worker, within milliseconds.
//
//   node server.mjs            WORKERS workers on PORT, until Ctrl-C
//   node server.mjs --demo     the same, then a 429 on the primary key seen by one worker, and what
//                              every worker does after it; exits 0 when no worker used that key again
//
// REDIS_URL (default redis://127.0.0.1:6379), REDIS_PREFIX (default 'aibridge-example:'; --demo uses
// a prefix of its own run), WORKERS (default 3), PORT (default 3000, 0 picks a free port), HOST
// (default 127.0.0.1). Keys from ANTHROPIC_API_KEYS / OPENAI_API_KEYS, else the local simulator.
import cluster from 'node:cluster'
import http from 'node:http'
import { createBridge } from '@aibridge/core'
import { redisStore } from '@aibridge/redis'
import { startSimulator } from '@aibridge/simulator'
import { Redis } from 'ioredis'
import { providersFromEnv } from '../shared/providers.mjs'
import { formatRecord } from '../shared/record-log.mjs'

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

if (cluster.isPrimary) await primary()
else await worker()

// ---- A worker: the host app, with its own bridge on the shared store ------------------------------

async function worker() {
  const name = `worker ${cluster.worker.id}`
  const say = (line) => console.log(`[${name}] ${line}`)
  // Redis outages are one warning each; requests go on from this worker's own copy meanwhile.
  // (Fields hold key hints, never keys.)
  const line = (o, msg) => say(`${msg} ${JSON.stringify(o)}`)
  const logger = { debug() {}, info: line, warn: line, error: line }
  const bridge = createBridge({
    providers: JSON.parse(process.env.AIBRIDGE_PROVIDERS),
    store: redisStore({ url: REDIS_URL, prefix: process.env.REDIS_PREFIX, logger }),
    logger,
    onInterception: (r) => say(formatRecord(r)),
  })
  const server = http.createServer((req, res) => {
    res.setHeader('x-worker', cluster.worker.id)
    if (req.url.startsWith('/ai/')) return void bridge.handle(req, res, { path: req.url.slice('/ai'.length) })
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ worker: cluster.worker.id, keys: bridge.keyStates() }))
    res.writeHead(404).end()
  })
  // Every mark other workers (or an earlier run) made is loaded before the first request.
  await bridge.ready()
  server.listen(Number(process.env.PORT), process.env.HOST)
  process.on('message', async (m) => {
    if (m.cmd === 'states') process.send({ states: bridge.keyStates() })
    if (m.cmd === 'shutdown') {
      server.close()
      server.closeAllConnections()
      await bridge.close()
      process.disconnect()
    }
  })
}

// ---- The primary: starts the workers (and the simulator), and runs the demo ------------------------

async function primary() {
  const demo = process.argv.includes('--demo')
  const workers = Number(process.env.WORKERS || 3)
  const ownPrefix = demo && !process.env.REDIS_PREFIX
  const prefix = process.env.REDIS_PREFIX || (ownPrefix ? `aibridge-demo:${process.pid}:` : 'aibridge-example:')
  const { providers, simulator } = await providersFromEnv(process.env, startSimulator)
  if (demo && !simulator) throw new Error('--demo scripts a 429 on the simulator: unset ANTHROPIC_API_KEYS and OPENAI_API_KEYS')
  const env = { AIBRIDGE_PROVIDERS: JSON.stringify(providers), REDIS_PREFIX: prefix, PORT: process.env.PORT ?? '3000', HOST: process.env.HOST || '127.0.0.1' }
  const listening = new Promise((resolve) => cluster.once('listening', (_w, address) => resolve(address.port)))
  const started = Array.from({ length: workers }, () => cluster.fork(env))
  const exited = started.map((w) => new Promise((resolve) => w.once('exit', resolve)))
  // Workers listen once ready; the primary hands their shared port's connections round-robin.
  await Promise.all(started.map((w) => new Promise((resolve) => w.once('listening', resolve))))
  const url = `http://${env.HOST}:${await listening}`
  console.log(`aibridge cluster example: ${workers} workers on ${url}, key state shared through Redis at ${new URL(REDIS_URL).host} under '${prefix}'`)
  if (simulator) console.log(`  No ANTHROPIC_API_KEYS or OPENAI_API_KEYS set: using the local SIMULATOR at ${simulator.url}`)
  console.log(`  Anthropic SDK baseURL: ${url}/ai/anthropic\n  OpenAI SDK baseURL:    ${url}/ai/openai/v1\n  Key states of the worker that answers: ${url}/health`)

  const stop = async (code) => {
    for (const w of started) if (w.isConnected()) w.send({ cmd: 'shutdown' })
    await Promise.all(exited)
    await simulator?.close()
    if (ownPrefix) await forget(prefix)
    process.exit(code)
  }
  if (!demo) {
    process.once('SIGINT', () => stop(0))
    process.once('SIGTERM', () => stop(0))
    return
  }
  let ok = false
  try {
    ok = await runDemo({ url, simulator, providers, workers: started })
  } finally {
    await stop(ok ? 0 : 1)
  }
}

/** Deletes what the demo left in Redis under its own prefix (its marks would expire; the index would not). */
async function forget(prefix) {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }).on('error', () => {})
  try {
    for (const key of await redis.keys(`${prefix}*`)) await redis.del(key)
  } catch {
    // Redis is gone: nothing to tidy.
  } finally {
    redis.disconnect()
  }
}

async function runDemo({ url, simulator, providers, workers }) {
  const [primaryKey] = providers.anthropic.keys
  const hint = `${primaryKey.slice(0, 4)}...${primaryKey.slice(-4)}`
  // A new connection each time (no keep-alive), so the primary hands each request to the next worker.
  const request = () =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user', content: 'hello' }] })
      const req = http.request(`${url}/ai/anthropic/v1/messages`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' } }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode, worker: res.headers['x-worker'] }))
      })
      req.on('error', reject)
      req.end(body)
    })
  const statesOf = (w) =>
    new Promise((resolve) => {
      w.once('message', (m) => resolve(m.states.anthropic.find((k) => k.hint === hint)))
      w.send({ cmd: 'states' })
    })

  console.log(`\ndemo: the simulator answers the next request on ${hint} with 429, Retry-After: 30`)
  simulator.fault(primaryKey, { kind: 'rate_limit', retry: 'retry-after', seconds: 30 }, { times: 1 })
  const first = await request()
  const limitedAt = simulator.requests.length
  console.log(`demo: worker ${first.worker} got the 429 on ${hint}, failed over and answered ${first.status}`)

  // Every worker has the mark in its own copy (announced through Redis).
  const t0 = Date.now()
  let states
  do states = await Promise.all(workers.map(statesOf))
  while (states.some((s) => s.state !== 'temporary') && Date.now() - t0 < 5000)
  for (const [i, s] of states.entries()) {
    console.log(`demo: worker ${workers[i].id} sees ${hint} ${s.state}${s.until ? `, back in ${Math.ceil((s.until - Date.now()) / 1000)}s` : ''}`)
  }

  const results = []
  for (let i = 0; i < workers.length * 2; i++) results.push(await request())
  const served = new Set(results.map((r) => r.worker))
  const again = simulator.requests.slice(limitedAt).filter((r) => r.key === primaryKey).length
  const failed = results.filter((r) => r.status !== 200).length
  console.log(`demo: ${results.length} more requests, answered by workers ${[...served].sort().join(', ')}: ${failed} failed`)
  console.log(`demo: requests with ${hint} after its 429, from any worker: ${again}`)
  return again === 0 && failed === 0 && states.every((s) => s.state === 'temporary')
}
