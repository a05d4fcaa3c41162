// The worker side of benchmarks/run.mjs: a fake provider and a closed-loop load generator.
import http from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'
import { Pool } from 'undici'

const { seconds, connections, limited } = workerData
const REPLY = JSON.stringify({ id: 'msg_bench', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'x'.repeat(512) }] })
const SSE_EVENT = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'y'.repeat(200) } })}\n\n`
const SSE_EVENTS = 20_000

const upstream = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    if (req.headers['x-api-key'] === limited) {
      // Retry-After 0: the key is usable again at once, so every request fails over.
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

async function load(port, path) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections })
  const body = JSON.stringify({ model: 'bench', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] })
  const latencies = []
  let errors = 0
  const end = Date.now() + seconds * 1000
  const loop = async () => {
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint()
      try {
        const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body })
        await res.body.dump()
        if (res.statusCode !== 200) errors++
      } catch {
        errors++
      }
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  await pool.close()
  latencies.sort((a, b) => a - b)
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2)
  return { rps: Math.round(latencies.length / seconds), p50_ms: q(0.5), p99_ms: q(0.99), errors }
}

async function sse(port, path) {
  const pool = new Pool(`http://127.0.0.1:${port}`)
  const t0 = process.hrtime.bigint()
  const res = await pool.request({ path, method: 'POST', body: '{}' })
  let bytes = 0
  for await (const chunk of res.body) bytes += chunk.length
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  await pool.close()
  return { MB_per_s: (bytes / s / 1e6).toFixed(1), bytes }
}

parentPort.on('message', async ({ id, cmd, port, path }) => {
  let result
  if (cmd === 'upstream') result = await new Promise((resolve) => upstream.listen(0, '127.0.0.1', () => resolve(upstream.address().port)))
  else if (cmd === 'load') result = await load(port, path)
  else if (cmd === 'sse') result = await sse(port, path)
  parentPort.postMessage({ id, result })
})
