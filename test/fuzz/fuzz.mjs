// The live fuzz run: generated hostile connections (test/fuzz/generate.mjs) over raw sockets to a bridge
// on every mount (plain node `bridge.handle`, Express 5, Koa 3, Fastify 5) in front of a mock provider
// (test/fuzz/mock-provider.mjs). Every answer must be one of:
//   mock    the provider's own answer, relayed: the body it got is the one sent (SHA-256), the credential
//           a pool key where BYOK is off, an SSE stream whole or its complete events then an error event;
//   bridge  aibridge's own error, shaped like the provider's (Anthropic or OpenAI, by the path), never a 500;
//   host    the framework's own answer for a path that is not the bridge's (404s, the ping route, its 4xx);
//   parser  Node's (or Fastify's) answer to a request its HTTP parser refused: 400, 413, 417, 431, ... with
//           `connection: close` and no body (Fastify's: a small JSON body);
//   none    no answer, only where the client left, used CONNECT, or an earlier request on the connection
//           ended it (a refused framing, a reset).
// And: no crash (every mount still answers at the end, no uncaught exception or unhandled rejection), no
// 9 consecutive characters of any pool key or client key in any response byte, record or log line, and
// a record matching what the client saw for every complete answer from the provider.
import { gunzipSync } from 'node:zlib'
import { createBridge } from '@aibridge/core'
import { LeakScanner, scanningLogger } from '../support/leaks.mjs'
import { MOUNTS } from '../support/mounts.mjs'
import { CLIENT_KEYS, sampleConnections, wire } from './generate.mjs'
import { eventsBeforeDeath, sseEvents, startMockProvider } from './mock-provider.mjs'
import { exchange } from './raw-client.mjs'

/** Pool keys: long, random-looking and dot-free, so any 9 characters of one in the output are a leak. */
export const POOL_KEYS = ['sk-fz-pool-0-Hq7Xw2Lm9Rt4Vb8Nc3Kp6Zs1Yd5Fg0Ja', 'sk-fz-pool-1-Pm4Tn8Rw2Xq6Lb9Vc3Ks7Zd1Yh5Gf0Jb', 'sk-fz-pool-2-Wc6Yn1Rq5Xm9Lt3Vb7Kp2Zs8Hd4Gf0Jc', 'sk-fz-pool-3-Nb2Tq6Rw9Xm4Lc8Vs1Kp5Zd3Yh7Gf0Jd']

const PREFIX = { node: '', express: '/ai', koa: '/ai', fastify: '/ai' }
const PARSER_STATUSES = new Set([400, 408, 413, 414, 417, 431, 501, 505])
const DEADLINE_MS = 20_000
// Fastify routes its own list of methods (a WebDAV PROPFIND gets its 404), as the adapter's README says.
const FASTIFY_METHODS = new Set(['GET', 'HEAD', 'TRACE', 'DELETE', 'OPTIONS', 'PATCH', 'PUT', 'POST', 'QUERY'])

/** Settles as `promise` does, or rejects after `ms` (a timer that also keeps the process alive meanwhile). */
export function within(promise, ms) {
  let timer
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer))
}

/** Tallies by name, for the summary. */
function bump(obj, key, n = 1) {
  obj[key] = (obj[key] ?? 0) + n
}

function parseJson(buf) {
  try {
    return JSON.parse(buf.toString('utf8'))
  } catch {
    return undefined
  }
}

/** Which provider's error shape `body` has, or undefined. */
function errorShape(body) {
  if (body?.type === 'error' && typeof body.error?.type === 'string' && typeof body.error?.message === 'string' && Object.keys(body).length <= 3) return 'anthropic'
  const e = body?.error
  if (e && typeof e.message === 'string' && typeof e.type === 'string' && 'param' in e && 'code' in e) return 'openai'
  return undefined
}

/** The framework's own answers, by mount (never a 5xx: that is a failure wherever it comes from). */
function isHostAnswer(mount, r) {
  const type = r.headers['content-type'] ?? ''
  const text = r.body.toString('utf8')
  if (r.status >= 500) return false
  if (r.status === 200 && text === `{"host":"${mount}"}`) return true
  switch (mount) {
    case 'node':
      return r.status === 404 && text === 'host 404'
    case 'express':
      // finalhandler's HTML ("Cannot GET /x", a 400 for a bad URI), or the automatic OPTIONS answer.
      return (/^text\/html/.test(type) && /<pre>/.test(text)) || (r.status === 200 && /^text\/plain/.test(type) && /^[A-Z, ]+$/.test(text))
    case 'koa':
      return /^text\/plain/.test(type) && (text === 'Not Found' || text === 'Bad Request' || text === 'Method Not Allowed')
    case 'fastify': {
      const body = parseJson(r.body)
      return typeof body?.statusCode === 'number' && body.statusCode === r.status && typeof body.message === 'string'
    }
  }
  return false
}

/**
 * Node's answer to a request its parser refused (400, 431 with `connection: close` and no body; 417 for an
 * Expect it cannot meet), or Fastify's (the same statuses with {"error","message","statusCode"}, and the
 * connection closed without saying so).
 */
function isParserAnswer(r) {
  if (!PARSER_STATUSES.has(r.status)) return false
  if (r.body.length === 0) return true
  const body = parseJson(r.body)
  return body?.statusCode === r.status && typeof body.error === 'string' && typeof body.message === 'string'
}

// Node (20.20) writes the automatic `100 Continue` of a pipelined request whose answer is queued behind
// another between that answer's head and body (OutgoingMessage#_send unshifts the head in front of the
// buffered interim response): a Node bug, not the bridge's. raw-client skips it; such an answer is
// counted, not judged.

/** A provider answer whose body is what the mock sent (JSON with its echo, or SSE events); false when garbled. */
function answerIntact(r) {
  if (/event-stream/.test(r.headers['content-type'] ?? '')) return r.body.toString('utf8').startsWith('event: ') || r.body.length === 0
  try {
    const body = /gzip/.test(r.headers['content-encoding'] ?? '') ? gunzipSync(r.body) : r.body
    return body.length === 0 || parseJson(body) !== undefined
  } catch {
    return false
  }
}

/** The fuzz run. Resolves with the summary; `summary.failures.total === 0` means it passed. */
export async function runFuzz({ requests: wanted = 100_000, seed = 42, concurrency = 16, mounts = Object.keys(MOUNTS), onProgress } = {}) {
  const failures = { total: 0, byKind: {}, samples: [] }
  const fail = (kind, detail) => {
    failures.total++
    bump(failures.byKind, kind)
    if (failures.byKind[kind] <= 5) failures.samples.push({ kind, ...detail })
  }
  const onUnhandled = (err) => fail('unhandled rejection', { error: String(err?.stack ?? err).slice(0, 400) })
  const onUncaught = (err) => fail('uncaught exception', { error: String(err?.stack ?? err).slice(0, 400) })
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtException', onUncaught)

  const scanner = new LeakScanner(Object.fromEntries([...POOL_KEYS.map((k, i) => [`pool key ${i}`, k]), ...CLIENT_KEYS.map((k, i) => [`client key ${i}`, k])]))
  const mock = await startMockProvider({ poolKeys: POOL_KEYS, clientKeys: CLIENT_KEYS })
  const records = new Map()
  const stats = { records: 0, logLines: 0, hostErrors: 0 }
  const served = {}
  for (const name of mounts) {
    const bridge = createBridge({
      providers: {
        anthropic: { keys: POOL_KEYS, baseURL: `${mock.url}/anthropic` },
        openai: { keys: POOL_KEYS, baseURL: `${mock.url}/openai`, byok: false },
      },
      bodyLimit: 256 * 1024,
      cooldowns: { rateLimitMs: 100, quotaMs: 100, authRecheckMs: 100, maxMs: 2000 },
      timeouts: { headersMs: 15_000, bodyIdleMs: 15_000 },
      logger: scanningLogger((line) => {
        stats.logLines++
        scanner.scan(line, `log (${name})`)
      }),
      onInterception(record) {
        stats.records++
        scanner.scan(JSON.stringify(record), `record (${name})`)
        if (record.upstreamRequestId) settle(record.upstreamRequestId, { status: record.status, outcome: record.outcome })
      },
    })
    const mounted = await MOUNTS[name](bridge, { prefix: PREFIX[name], onHostError: () => stats.hostErrors++ })
    served[name] = { bridge, ...mounted }
  }

  const summary = {
    seed,
    requests: 0,
    connections: 0,
    perMount: Object.fromEntries(mounts.map((m) => [m, { requests: 0, answers: {} }])),
    answers: {},
    statuses: {},
    rssBeforeMB: 0,
    rssAfterMB: 0,
  }
  globalThis.gc?.()
  const before = process.memoryUsage()
  const started = Date.now()
  // Records and the client answers they must match, paired by the mock's request id as each comes
  // (so the run holds only the unpaired); what is left unpaired at the end is a failure.
  const expected = new Map()
  function settle(rid, record) {
    const e = expected.get(rid)
    if (!e) return void records.set(rid, record)
    expected.delete(rid)
    if (record.status !== e.status || record.outcome !== e.outcome) fail('record differs from what the client saw', { req: e.req, client: { status: e.status, outcome: e.outcome }, record })
  }
  function expectRecord(rid, e) {
    const record = records.get(rid)
    if (!record) return void expected.set(rid, e)
    records.delete(rid)
    expected.set(rid, e)
    settle(rid, record)
  }

  function checkMock(conn, req, r, where) {
    if (req.idDropped) return
    const rid = /^fz-(\d+)-(\d+)$/.exec(r.headers['x-request-id'] ?? '')
    if (!rid || Number(rid[1]) !== req.id) return fail('answer for another request', { req: describe(conn, req), got: r.headers['x-request-id'] })
    const seen = mock.seen.get(String(req.id))
    mock.seen.delete(String(req.id))
    if (seen.provider === 'openai' && (!seen.credential.startsWith('pool:') || seen.clientKeySeen)) fail('client credential reached the provider (byok off)', { req: describe(conn, req), credential: seen.credential })
    // A client that names its own credential header in Connection has it removed as hop-by-hop (and,
    // having sent one, is not given a pool key): the provider then sees none. Anything else must carry one.
    if (seen.credential === 'none' && !req.credentialHopByHop) fail('no credential reached the provider', { req: describe(conn, req) })
    if (seen.sha256 !== req.bodyHash) fail('body not forwarded intact', { req: describe(conn, req), sent: req.bodyLength, got: seen.length })
    const type = r.headers['content-type'] ?? ''
    const left = conn.leave.at !== 'never'
    if (/event-stream/.test(type) && req.method !== 'HEAD') {
      const events = sseEvents(req.id)
      const text = r.body.toString('utf8')
      if (req.answer === 'sse-die' && r.complete) {
        const k = eventsBeforeDeath(req.id)
        const prefix = events.slice(0, k).join('')
        // The API's own error event: Anthropic `event: error`, a Chat Completions `data: {"error":...}` chunk.
        const tail = /^(?:event: error\n)?data: (.*)\n\n$/.exec(text.slice(prefix.length))
        const error = tail && parseJson(Buffer.from(tail[1]))?.error
        if (!text.startsWith(prefix) || typeof error?.message !== 'string') fail('SSE death not ended by an error event', { req: describe(conn, req), body: text.slice(0, 300) })
      } else if (r.complete && text !== events.join('')) fail('SSE stream altered', { req: describe(conn, req), body: text.slice(0, 300) })
    } else if (r.complete && req.method !== 'HEAD' && r.status === 200) {
      let body = r.body
      if (/gzip/.test(r.headers['content-encoding'] ?? '')) body = gunzipSync(body)
      const echo = parseJson(body)
      if (echo?.mock !== true || echo.sha256 !== seen.sha256) fail('provider answer altered', { req: describe(conn, req), body: body.toString('utf8').slice(0, 200) })
    }
    if (!r.complete && req.answer !== 'json-die' && !left) fail('answer cut short', { req: describe(conn, req), status: r.status, ...where })
    if (r.complete && !left) {
      const cut = (req.answer === 'sse-die' || req.answer === 'json-die') && req.method !== 'HEAD'
      const outcome = cut ? 'truncated' : r.status < 400 ? 'ok' : 'upstream_error'
      expectRecord(rid[0], { status: r.status, outcome, req: { id: req.id, mount: conn.mount, method: req.method, target: req.target.slice(0, 80), answer: req.answer } })
    }
  }

  function check(conn, mount, wired, result) {
    let ended = false
    wired.requests.forEach((req, i) => {
      const r = result.responses[i]
      const where = {
        index: i,
        before: result.responses.slice(0, i).map((x) => `${x.status} ${x.headers?.connection ?? ''}${x.complete ? '' : ' (cut)'}`),
        raw: result.raw.toString('latin1').slice(0, 1200),
        rawEnd: result.raw.length > 1200 ? result.raw.toString('latin1').slice(-300) : undefined,
        connection: wired.requests.map((x) => describe(conn, x)),
      }
      const tally = (answer) => {
        bump(summary.answers, answer)
        bump(summary.perMount[mount].answers, answer)
      }
      // A later request on this connection that the parser refuses (or a CONNECT) ends the connection
      // at once, an answer still going out included: Node destroys the socket, Fastify's clientError
      // handler even writes its 400 into the middle of that answer first. Such an answer may be cut or
      // garbled, by the host server, not the bridge.
      const doomed = wired.requests.slice(i + 1).some((x) => x.mayBeRefused || x.method === 'CONNECT')
      if (r && doomed && (r.error || !r.complete || (r.headers['x-mock'] === '1' && !answerIntact(r)))) {
        ended = true
        return tally('cut by a later refused request')
      }
      if (!r) {
        tally('none')
        // json-die: the provider cut a body whose length it had announced, so the bridge resets the connection.
        const excused = ended || conn.leave.at !== 'never' || wired.connects || wired.cut || req.mayBeRefused || req.answer === 'json-die'
        if (!excused) fail(result.ending === 'timeout' ? 'no answer in time' : 'no answer', { req: describe(conn, req), ending: result.ending, ...where })
        ended = true
        return
      }
      if (r.error) {
        tally('garbled')
        if (conn.leave.at === 'never') fail('unparseable answer', { req: describe(conn, req), error: r.error, ...where })
        ended = true
        return
      }
      bump(summary.statuses, r.status)
      if (/close/i.test(r.headers.connection ?? '') || !r.complete || req.brokenFraming || req.upgrades) ended = true
      if (r.misplacedInterim) {
        if (!(i > 0 && req.expectsContinue)) fail('interim response inside an answer', { req: describe(conn, req), ...where })
        return tally('node interim-response bug')
      }
      if (r.headers['x-mock'] === '1') {
        tally('mock')
        return checkMock(conn, req, r, where)
      }
      const body = parseJson(r.body)
      const shape = errorShape(body)
      if (shape && /^aibridge: /.test(body.error.message) && /^application\/json/.test(r.headers['content-type'] ?? '')) {
        tally('bridge')
        if (r.status >= 500 && r.status !== 502 && r.status !== 503 && r.status !== 504) fail('bridge answered 500', { req: describe(conn, req), message: body.error.message })
        if ((req.provider === 'anthropic' || req.provider === 'openai') && shape !== req.provider && conn.requests[i].prefixStyle === 'exact') fail("error in the other provider's shape", { req: describe(conn, req), shape })
        return
      }
      if (isParserAnswer(r)) {
        ended = true
        return tally('parser')
      }
      if (req.method === 'HEAD' && r.body.length === 0 && r.status < 500) return tally('head (no body to judge)')
      if (isHostAnswer(mount, r)) {
        tally('host')
        const routable =
          conn.requests[i].prefixStyle === 'exact' &&
          (req.provider === 'anthropic' || req.provider === 'openai') &&
          /^[A-Z]+$/.test(req.method) &&
          req.method !== 'CONNECT' &&
          (mount !== 'fastify' || FASTIFY_METHODS.has(req.method))
        if (routable && r.status === 404) fail("host 404 for the bridge's path", { req: describe(conn, req) })
        return
      }
      tally('unexpected')
      if (!(conn.leave.at !== 'never' && !r.complete)) fail('unexpected answer', { req: describe(conn, req), status: r.status, type: r.headers['content-type'], ...where })
    })
  }

  let nextId = 1
  let batch = 0
  const queue = []
  const refill = () => {
    for (const c of sampleConnections(mounts, 200, seed + batch++)) queue.push(c)
  }
  async function worker() {
    while (summary.requests < wanted) {
      if (queue.length === 0) refill()
      const conn = queue.shift()
      const take = Math.min(conn.requests.length, wanted - summary.requests)
      conn.requests = conn.requests.slice(0, take)
      summary.requests += take
      summary.connections++
      const mount = conn.mount
      summary.perMount[mount].requests += take
      conn.firstId = nextId
      const wired = wire(conn, nextId, PREFIX[mount])
      nextId += take
      const result = await exchange(served[mount].port, {
        pieces: wired.pieces,
        methods: wired.requests.map((r) => r.method),
        leave: conn.leave,
        deadlineMs: DEADLINE_MS,
      })
      scanner.scan(result.raw, `response (${mount})`)
      check(conn, mount, wired, result)
      onProgress?.(summary.requests)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  summary.durationMs = Date.now() - started

  // No crash: every mount still serves its own route and a plain request through the bridge.
  for (const name of mounts) {
    const { port } = served[name]
    const ping = `GET ${PREFIX[name]}/_host/ping HTTP/1.1\r\nhost: x\r\n\r\n`
    const body = '{"model":"m","messages":[]}'
    const post = `POST ${PREFIX[name]}/openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-fuzz-id: 0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
    const r = await exchange(port, { pieces: [Buffer.from(ping + post)], methods: ['GET', 'POST'], leave: { at: 'never' }, deadlineMs: 10_000 })
    if (r.responses[0]?.status !== 200 || r.responses[1]?.status !== 200) fail('mount stopped serving', { mount: name, statuses: r.responses.map((x) => x.status) })
  }
  for (const name of mounts) await served[name].close()
  // Every request has ended once its host closed its connections: close() must resolve promptly.
  await Promise.all(mounts.map((name) => within(served[name].bridge.close(), 10_000).catch(() => fail('bridge.close() did not resolve', { mount: name }))))
  await mock.close()

  for (const e of expected.values()) fail('no record for an answer from the provider', { req: e.req })
  if (scanner.hits > 0) for (const s of scanner.samples) fail('key leak', s)
  summary.leakHits = scanner.hits
  summary.records = stats.records
  summary.logLines = stats.logLines
  summary.hostErrorEvents = stats.hostErrors
  // After every server and bridge is closed, and a GC (run with --expose-gc, as pnpm fuzz does).
  globalThis.gc?.()
  const after = process.memoryUsage()
  const mb = (n) => Math.round(n / 1048576)
  Object.assign(summary, { rssBeforeMB: mb(before.rss), rssAfterMB: mb(after.rss), heapBeforeMB: mb(before.heapUsed), heapAfterMB: mb(after.heapUsed) })
  summary.failures = failures
  process.off('unhandledRejection', onUnhandled)
  process.off('uncaughtException', onUncaught)
  return summary
}

/** A request as a failure report shows it: enough to rebuild it, nothing secret (client keys are masked). */
function describe(conn, req) {
  const r = conn.requests[req.id - conn.firstId] ?? {}
  return {
    id: req.id,
    mount: conn.mount,
    method: req.method,
    target: req.target.slice(0, 160),
    framing: r.framing,
    body: r.body && { kind: r.body.kind, size: r.body.size },
    answer: req.answer,
    headers: (r.headers ?? []).map(([n, v]) => `${n}: ${String(v).slice(0, 40).replace(/client-own-\d-\w+/g, 'client-own-*')}`),
    flood: r.flood,
    leave: conn.leave,
    pipelined: conn.requests.length,
  }
}
