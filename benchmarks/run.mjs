// Measures the bridge's overhead on loopback: direct-to-upstream vs through `bridge.handle`, a failover on
// every request, and SSE throughput. Bounded in time; prints numbers, asserts nothing.
// Usage: pnpm bench   (or: node benchmarks/run.mjs --seconds 5 --connections 32)
import http from 'node:http'
import { parseArgs } from 'node:util'
import { pipeline } from 'node:stream'
import { Pool } from 'undici'
import { createBridge } from '@aibridge/core'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '32' } } })
const SECONDS = Number(values.seconds)
const CONNECTIONS = Number(values.connections)
const REPLY = JSON.stringify({ id: 'msg_bench', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'x'.repeat(512) }] })
const SSE_EVENT = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'y'.repeat(200) } })}\n\n`
const SSE_EVENTS = 5000

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))
}

const upstream = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    if (req.headers['x-api-key'] === 'sk-bench-RATE-LIMITED-key-0001') {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' })
      return res.end('{"type":"error","error":{"type":"rate_limit_error","message":"bench"}}')
    }
    if (req.url.startsWith('/v1/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      let i = 0
      const write = () => {
        while (i < SSE_EVENTS) {
          i++
          if (!res.write(SSE_EVENT)) return res.once('drain', write)
        }
        res.end()
      }
      return write()
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(REPLY) })
    res.end(REPLY)
  })
})
const upPort = await listen(upstream)

function bridgeServer(keys) {
  const bridge = createBridge({ providers: { anthropic: { keys, baseURL: `http://127.0.0.1:${upPort}` } } })
  const server = http.createServer((req, res) => bridge.handle(req, res))
  return { bridge, server }
}

// The floor any proxy pays: buffer the body, one undici request, stream the answer back. No failover, no records.
function bareProxy() {
  const pool = new Pool(`http://127.0.0.1:${upPort}`)
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const headers = { ...req.headers, 'x-api-key': 'sk-bench-GOOD-key-000000001' }
      delete headers.host
      delete headers.connection
      delete headers['content-length']
      const up = await pool.request({ path: req.url.replace('/anthropic', ''), method: req.method, headers, body: Buffer.concat(chunks) })
      res.writeHead(up.statusCode, up.headers)
      pipeline(up.body, res, () => {})
    })
  })
  return { server, bridge: pool }
}

async function load(port, path, headers = {}) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 })
  const body = JSON.stringify({ model: 'bench', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] })
  const latencies = []
  let errors = 0
  const end = Date.now() + SECONDS * 1000
  const worker = async () => {
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint()
      try {
        const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
        await res.body.dump()
        if (res.statusCode !== 200) errors++
      } catch {
        errors++
      }
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  await pool.close()
  latencies.sort((a, b) => a - b)
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2)
  return { rps: Math.round(latencies.length / SECONDS), p50: q(0.5), p99: q(0.99), errors }
}

async function sseThroughput(port, path) {
  const pool = new Pool(`http://127.0.0.1:${port}`)
  const t0 = process.hrtime.bigint()
  const res = await pool.request({ path, method: 'POST', body: '{}' })
  let bytes = 0
  for await (const chunk of res.body) bytes += chunk.length
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  await pool.close()
  return { MBps: (bytes / s / 1e6).toFixed(1), bytes }
}

const rows = []
rows.push({ case: 'direct to upstream', ...(await load(upPort, '/v1/messages')) })
const bare = bareProxy()
const barePort = await listen(bare.server)
rows.push({ case: 'bare undici proxy (floor)', ...(await load(barePort, '/anthropic/v1/messages')) })
const plain = bridgeServer(['sk-bench-GOOD-key-000000001'])
const plainPort = await listen(plain.server)
rows.push({ case: 'through bridge', ...(await load(plainPort, '/anthropic/v1/messages')) })
const failing = bridgeServer(['sk-bench-RATE-LIMITED-key-0001', 'sk-bench-GOOD-key-000000001'])
const failPort = await listen(failing.server)
rows.push({ case: 'through bridge, failover every request', ...(await load(failPort, '/anthropic/v1/messages')) })
console.log(`aibridge benchmark: ${SECONDS}s per case, ${CONNECTIONS} connections, node ${process.version}`)
console.table(rows)
console.table([
  { case: 'SSE direct', ...(await sseThroughput(upPort, '/v1/stream')) },
  { case: 'SSE through bridge', ...(await sseThroughput(plainPort, '/anthropic/v1/stream')) },
])
for (const b of [bare, plain, failing]) {
  b.server.closeAllConnections()
  b.server.close()
  await b.bridge.close()
}
upstream.closeAllConnections()
upstream.close()
