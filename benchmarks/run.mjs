// Measures the bridge's overhead on loopback. The proxies under test run on the main thread; the fake
// provider and the load generator run on a worker thread, so each side has a core of its own (2 cores).
// Cases: direct to the provider, a bare undici proxy (the floor any proxy pays), the bridge, the bridge
// failing over on every request, the same two with redisStore (when a Redis answers at REDIS_URL,
// default redis://127.0.0.1:6379), and SSE throughput (direct, bare proxy, bridge). Bounded in time;
// prints numbers, asserts nothing.
// Usage: pnpm bench   (or: node benchmarks/run.mjs --seconds 5 --connections 32)
import http from 'node:http'
import net from 'node:net'
import { pipeline } from 'node:stream'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { Pool } from 'undici'
import { createBridge } from '@aibridge/core'
import { redisStore } from '@aibridge/redis'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' } } })
const SECONDS = Number(values.seconds)
const CONNECTIONS = Number(values.connections)
const GOOD = 'sk-bench-GOOD-key-000000001'
const LIMITED = 'sk-bench-RATE-LIMITED-key-0001'

const worker = new Worker(new URL('./load.mjs', import.meta.url), { workerData: { seconds: SECONDS, connections: CONNECTIONS, limited: LIMITED } })
let nextId = 0
const pending = new Map()
worker.on('message', (m) => {
  pending.get(m.id)?.(m.result)
  pending.delete(m.id)
})
function ask(command) {
  const id = nextId++
  return new Promise((resolve) => {
    pending.set(id, resolve)
    worker.postMessage({ id, ...command })
  })
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

const upPort = await ask({ cmd: 'upstream' })

function bridgeServer(keys, store) {
  const bridge = createBridge({ providers: { anthropic: { keys, baseURL: `http://127.0.0.1:${upPort}` } }, store })
  const server = http.createServer((req, res) => bridge.handle(req, res))
  return { server, bridge, close: () => bridge.close() }
}

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const redisUp = await new Promise((resolve) => {
  const { hostname, port } = new URL(REDIS_URL)
  const socket = net.connect(Number(port || 6379), hostname, () => socket.write('PING\r\n'))
  const done = (up) => {
    socket.destroy()
    resolve(up)
  }
  socket.setTimeout(1000, () => done(false))
  socket.once('error', () => done(false))
  socket.once('data', (d) => done(String(d).startsWith('+PONG')))
})
const redisPrefix = `aibridge-bench:${process.pid}:`

// The floor any proxy pays: buffer the body, one undici request, stream the answer back. No failover, no records.
function bareProxy() {
  const pool = new Pool(`http://127.0.0.1:${upPort}`)
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const headers = { ...req.headers, 'x-api-key': GOOD }
      delete headers.host
      delete headers.connection
      delete headers['content-length']
      const up = await pool.request({ path: req.url.replace('/anthropic', ''), method: req.method, headers, body: Buffer.concat(chunks) })
      res.writeHead(up.statusCode, up.headers)
      pipeline(up.body, res, () => {})
    })
  })
  return { server, close: () => pool.close() }
}

const subjects = [
  ['bare undici proxy (floor)', bareProxy()],
  ['through bridge', bridgeServer([GOOD])],
  ['through bridge, failover every request', bridgeServer([LIMITED, GOOD])],
  ...(redisUp
    ? [
        ['through bridge + redisStore', bridgeServer([GOOD], redisStore({ url: REDIS_URL, prefix: redisPrefix }))],
        ['through bridge + redisStore, failover every request', bridgeServer([LIMITED, GOOD], redisStore({ url: REDIS_URL, prefix: redisPrefix }))],
      ]
    : []),
]
if (!redisUp) console.log(`no Redis at ${REDIS_URL}: the redisStore cases are left out`)
await Promise.all(subjects.map(([, s]) => s.bridge?.ready()))
const rows = [{ case: 'direct to provider', ...(await ask({ cmd: 'load', port: upPort, path: '/v1/messages' })) }]
const sse = [{ case: 'SSE direct', ...(await ask({ cmd: 'sse', port: upPort, path: '/v1/stream' })) }]
for (const [name, s] of subjects) {
  const port = await listen(s.server)
  rows.push({ case: name, ...(await ask({ cmd: 'load', port, path: '/anthropic/v1/messages' })) })
  if (!name.includes('failover') && !name.includes('redisStore')) sse.push({ case: `SSE ${name}`, ...(await ask({ cmd: 'sse', port, path: '/anthropic/v1/stream' })) })
}
console.log(`aibridge benchmark: ${SECONDS}s per case, ${CONNECTIONS} connections, node ${process.version}`)
console.table(rows)
console.table(sse)
for (const [, s] of subjects) {
  s.server.closeAllConnections()
  s.server.close()
  await s.close()
}
await worker.terminate()
