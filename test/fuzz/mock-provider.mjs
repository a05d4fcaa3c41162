// The provider behind the fuzzed bridges: Anthropic under /anthropic, OpenAI under /openai. Each
// request says how it wants to be answered (`x-fuzz-answer`; a hostile request may lose that header on
// the way, and then gets the default). Every answer names the fuzz request and attempt in its request-id
// header (so records can be matched) and carries `x-mock: 1`; a JSON answer reports the SHA-256 of the
// body received and which credential came (`pool:i`, `client:j`, `none`, `other`), never the credential.
import { createHash } from 'node:crypto'
import http from 'node:http'
import { gzipSync } from 'node:zlib'

const ERRORS = {
  anthropic: {
    429: { type: 'error', error: { type: 'rate_limit_error', message: 'mock: rate limited' } },
    401: { type: 'error', error: { type: 'authentication_error', message: 'mock: invalid x-api-key' } },
    quota: [400, { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } }],
    500: { type: 'error', error: { type: 'api_error', message: 'mock: internal' } },
  },
  openai: {
    429: { error: { message: 'mock: rate limited', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    401: { error: { message: 'mock: invalid key', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
    quota: [429, { error: { message: 'mock: quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }],
    500: { error: { message: 'mock: internal', type: 'server_error', param: null, code: null } },
  },
}

// 429s name their wait in every header style aibridge reads, all short so keys come back during the run.
const RETRY_STYLES = [
  () => ({ 'retry-after': '0' }),
  () => ({ 'retry-after-ms': '30' }),
  () => ({ 'retry-after': new Date(Date.now() + 1000).toUTCString() }),
  () => ({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '40ms' }),
  () => ({ 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': new Date(Date.now() + 50).toISOString() }),
  () => ({}),
]

/** The SSE events the mock sends for request `id`; the checker rebuilds them to compare. */
export function sseEvents(id) {
  const n = 3 + (seq(id) % 4)
  return Array.from({ length: n }, (_, i) => `event: delta\ndata: {"id":${JSON.stringify(String(id))},"i":${i},"text":"chunk ${i} ✓"}\n\n`)
}

/** How many events an `sse-die` answer sends before the mock kills the connection. */
export const eventsBeforeDeath = (id) => 1 + (seq(id) % 2)

/** The fuzz id as a number; 0 when a hostile request lost its x-fuzz-id header on the way. */
const seq = (id) => (Number.isInteger(Number(id)) ? Number(id) : 0)

function credentialOf(headers, poolKeys, clientKeys) {
  const raw = [headers['x-api-key'], headers.authorization, headers['api-key']].flat().filter((v) => typeof v === 'string' && v !== '')
  if (raw.length === 0) return 'none'
  const token = raw[0].replace(/^bearer\s+/i, '')
  const pool = poolKeys.indexOf(token)
  if (pool !== -1) return `pool:${pool}`
  const client = clientKeys.indexOf(token)
  return client !== -1 ? `client:${client}` : 'other'
}

/**
 * Starts the mock on 127.0.0.1. `seen` maps a fuzz id to what arrived with its latest attempt:
 * { provider, sha256, length, credential, clientKeySeen (any client key anywhere in the headers), attempts };
 * the checker deletes what it has read.
 */
export async function startMockProvider({ poolKeys, clientKeys }) {
  const seen = new Map()
  const server = http.createServer(async (req, res) => {
    res.on('error', () => {})
    const chunks = []
    try {
      for await (const c of req) chunks.push(c)
    } catch {
      return
    }
    const body = Buffer.concat(chunks)
    const provider = req.url.startsWith('/anthropic') ? 'anthropic' : 'openai'
    const id = String(req.headers['x-fuzz-id'] ?? 'none')
    const attempt = (seen.get(id)?.attempts ?? 0) + 1
    const credential = credentialOf(req.headers, poolKeys, clientKeys)
    const headerText = JSON.stringify(req.headers)
    const info = {
      provider,
      sha256: createHash('sha256').update(body).digest('hex'),
      length: body.length,
      credential,
      clientKeySeen: clientKeys.some((k) => headerText.includes(k)),
      attempts: attempt,
    }
    seen.set(id, info)
    const rid = `fz-${id}-${attempt}`
    const base = { 'x-mock': '1', 'request-id': rid, 'x-request-id': rid }
    const answer = String(req.headers['x-fuzz-answer'] ?? 'json').split(',')[0].trim()
    const pool = credential.startsWith('pool:') ? Number(credential.slice(5)) : -1
    const json = (status, value, extra = {}) => {
      const bytes = Buffer.from(JSON.stringify(value))
      res.writeHead(status, { ...base, 'content-type': 'application/json', 'content-length': bytes.length, ...extra }).end(bytes)
    }
    const echo = { mock: true, id, attempt, sha256: info.sha256, length: info.length, credential }
    const errors = ERRORS[provider]
    // Faults hit the first pool keys only, so a failover has somewhere to go.
    if (answer === '429' && (pool === 0 || pool === 1)) return json(429, errors[429], RETRY_STYLES[(seq(id) + attempt) % RETRY_STYLES.length]())
    if (answer === '401' && pool === 0) return json(401, errors[401])
    if (answer === 'quota' && pool === 1) return json(errors.quota[0], errors.quota[1])
    if (answer === '500') return json(500, errors[500])
    // A HEAD answer has no body to stream or cut (Node drops what is written to it).
    if (req.method === 'HEAD') return json(200, echo)
    if (answer === 'slow') await new Promise((r) => setTimeout(r, seq(id) % 40))
    if (answer === 'big') return json(200, { ...echo, pad: 'p'.repeat(200_000) })
    if (answer === 'gzip') {
      const bytes = gzipSync(JSON.stringify(echo))
      return res.writeHead(200, { ...base, 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bytes.length }).end(bytes)
    }
    if (answer === 'json-die') {
      const bytes = Buffer.from(JSON.stringify(echo))
      res.writeHead(200, { ...base, 'content-type': 'application/json', 'content-length': bytes.length })
      res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy())
      return
    }
    if (answer === 'sse' || answer === 'sse-die') {
      res.writeHead(200, { ...base, 'content-type': 'text/event-stream' })
      const events = sseEvents(id)
      const stop = answer === 'sse-die' ? eventsBeforeDeath(id) : events.length
      for (let i = 0; i < stop && !res.destroyed; i++) {
        await new Promise((resolve) => res.write(events[i], resolve))
        await new Promise((r) => setImmediate(r))
      }
      if (answer === 'sse-die') res.destroy()
      else res.end()
      return
    }
    json(200, echo)
  })
  server.keepAliveTimeout = 30_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
