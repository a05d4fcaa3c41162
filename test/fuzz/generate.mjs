// Hostile traffic, generated with fast-check: connections of one or more (pipelined) requests with
// hostile targets, methods, header names and values, repeated credentials, bodies in every framing
// (malformed chunked encodings included), written in random fragments, some cut off early.
// A connection is plain data; `wire(connection)` turns it into the bytes to send and what to expect.
import { createHash } from 'node:crypto'
import fc from 'fast-check'

/** The credentials a fuzzing client brings of its own (BYOK). Never a pool key. */
export const CLIENT_KEYS = Array.from({ length: 6 }, (_, i) => `client-own-${i}-Zq8Wm3Rv7Tn2Kx5Lp9Yd4Hs6Jc1Gf0Bv`)

export const ANSWERS = ['json', 'json', 'json', 'sse', 'sse-die', 'json-die', '429', '401', 'quota', '500', 'slow', 'gzip', 'big']

const CRLF = '\r\n'
const token = (re) => fc.stringMatching(re)

// ---- targets -------------------------------------------------------------------------------

const PIECES = [
  'v1', 'messages', 'chat', 'completions', 'models', 'count_tokens', 'x', '-', '_', '~', '.', '..', ';', ';a=1', '@', ':', '+', '!', '$', '&',
  "'", '(', ')', '*', ',', '=', '%2e', '%2E', '%252e', '%25', '%', '%2', '%g0', '%2f', '%2F', '%5c', '\\', '%3b', '%3f', '%23', '#',
  '%c0%ae', '%e2%80%a5', '%ef%bc%8e', '%ef%bc%8f', '%u002e', '%00', '%0d%0a', '%20', '%c3%a9', '%ff', '//', '/', '%7f',
]
// Characters outside RFC 3986 that Node's parser may refuse outright: rarer, so most targets reach the bridge.
const RAW_PIECES = ['[', ']', '{', '|', '^', '`', '"', '<', ' ', '\t', '\x7f', '\xe9']
const piece = fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...PIECES) }, { weight: 1, arbitrary: fc.constantFrom(...RAW_PIECES) })
const segment = fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join(''))
const rest = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('/v1/messages', '/v1/chat/completions', '/v1/responses', '/v1/models', '/v1/messages/count_tokens', '') },
  { weight: 2, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => '/' + s.join('/')) },
)
const query = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom('?', '?limit=2', '?a=%2e%2e&b=..', '?x=\\', '?q=%00', '?beta=true&beta=false', '?#frag', '?%zz') },
  { weight: 1, arbitrary: fc.array(piece, { maxLength: 4 }).map((p) => '?' + p.join('')) },
)
const providerSegment = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('anthropic', 'openai') },
  { weight: 1, arbitrary: fc.constantFrom('Anthropic', 'OPENAI', 'unknown', '', '%61nthropic', 'openai%00', 'anthropic;x', '..', 'openai.', '_host') },
)
/** The prefix as the request writes it: the mount's own, or a variant a router might (mis)match. */
const prefixStyle = fc.oneof({ weight: 10, arbitrary: fc.constant('exact') }, { weight: 1, arbitrary: fc.constantFrom('upper', 'slash', 'double', 'absolute', 'none', 'star') })

function prefixed(prefix, style, path) {
  switch (style) {
    case 'upper':
      return prefix.toUpperCase() + path
    case 'slash':
      return prefix + '/' + path
    case 'double':
      return '/' + prefix + path
    case 'absolute':
      return `http://evil.example${prefix}${path}`
    case 'none':
      return path
    case 'star':
      return '*'
    default:
      return prefix + path
  }
}

// ---- methods and headers -------------------------------------------------------------------

const method = fc.oneof(
  { weight: 12, arbitrary: fc.constant('POST') },
  { weight: 3, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
  { weight: 1, arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'SEARCH', 'MKCOL', 'QUERY', 'CONNECT', 'post', 'FOO', 'GET\t', 'G ET', '') },
)

const anyCase = (name) => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''))
const clientKey = fc.constantFrom(...CLIENT_KEYS)

const credentialHeader = fc.oneof(
  fc.tuple(anyCase('authorization'), fc.oneof(clientKey.map((k) => `Bearer ${k}`), clientKey.map((k) => `bearer  ${k}`), fc.constantFrom('Bearer', 'Bearer ', '', 'Basic dXNlcjpwYXNz'))),
  fc.tuple(anyCase('x-api-key'), fc.oneof(clientKey, fc.constantFrom('', ' '))),
  fc.tuple(anyCase('api-key'), clientKey),
  fc.tuple(anyCase('proxy-authorization'), clientKey.map((k) => `Bearer ${k}`)),
)

const visible = token(/^[\x21-\x7e]{0,40}$/)
const headerValue = fc.oneof(
  { weight: 24, arbitrary: visible },
  { weight: 4, arbitrary: token(/^[\x20-\x7e\t]{0,60}$/) },
  // obs-text (RFC 9110 section 5.5): bytes 0x80-0xff, which node passes through as latin1.
  { weight: 4, arbitrary: fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(' leading', 'trailing ', '') },
  { weight: 1, arbitrary: fc.constantFrom('\x00', 'a\rb', 'a\nb', '\x7f', '\x01') },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => 'v'.repeat(n)) },
)
const headerName = fc.oneof(
  { weight: 30, arbitrary: token(/^[a-zA-Z][a-zA-Z0-9-]{0,20}$/) },
  { weight: 2, arbitrary: token(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('x y', 'x:y', '(x)', 'x\x00', '', 'x\u00e9', 'x"', 'x/y', '\t') },
)
const hopHeader = fc.oneof(
  fc.tuple(anyCase('connection'), fc.constantFrom('close', 'keep-alive', 'x-api-key', 'authorization, x-custom', 'upgrade', 'te, trailer', 'content-length', 'x-fuzz-id')),
  fc.tuple(fc.constantFrom('keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'http2-settings', 'cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'), visible),
  fc.tuple(fc.constant('upgrade'), fc.constantFrom('websocket', 'h2c')),
  fc.tuple(fc.constant('expect'), fc.constantFrom('100-continue', '100-Continue', 'foo')),
  fc.tuple(fc.constant('content-type'), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/event-stream', '', ';;;', 'application/json; charset=latin1')),
  fc.tuple(fc.constant('content-encoding'), fc.constantFrom('gzip', 'br', 'identity', 'gzip, gzip', 'zz')),
  fc.tuple(fc.constant('accept-encoding'), fc.constantFrom('gzip', 'br, zstd', '*', 'identity;q=0')),
  fc.tuple(fc.constantFrom('anthropic-version', 'anthropic-beta', 'openai-organization', 'openai-project'), visible),
  fc.tuple(fc.constant('host'), fc.constantFrom('', 'evil.example', 'a b', '127.0.0.1:1')),
)
const extraHeaders = fc.array(
  fc.oneof({ weight: 3, arbitrary: credentialHeader }, { weight: 4, arbitrary: hopHeader }, { weight: 3, arbitrary: fc.tuple(headerName, headerValue) }),
  { maxLength: 10 },
)
/** Sometimes a great many headers (past Node's 16 KiB limit, or its 2000-header cap). */
const headerFlood = fc.oneof({ weight: 20, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 2500 }) })

// ---- bodies and framing --------------------------------------------------------------------

const body = fc.record({
  kind: fc.constantFrom('json', 'json', 'bytes', 'text'),
  // Mostly small; some past a TCP segment, a few past the bridges' 256 KiB limit.
  size: fc.oneof(
    { weight: 100, arbitrary: fc.integer({ min: 0, max: 600 }) },
    { weight: 15, arbitrary: fc.integer({ min: 600, max: 20_000 }) },
    { weight: 5, arbitrary: fc.integer({ min: 20_000, max: 70_000 }) },
    { weight: 1, arbitrary: fc.constantFrom(262_144, 262_145, 300_000) },
  ),
  seed: fc.integer(),
  stream: fc.boolean(),
})
const framing = fc.oneof(
  { weight: 10, arbitrary: fc.constant('length') },
  { weight: 4, arbitrary: fc.constant('chunked') },
  { weight: 1, arbitrary: fc.constantFrom('none', 'bad-chunk-size', 'bad-chunk-end', 'chunk-overflow', 'chunk-ext', 'chunk-trailers', 'length-and-chunked', 'two-lengths', 'length-short', 'te-not-chunked', 'lf-only') },
)

const request = fc.record({
  providerSegment,
  prefixStyle,
  rest,
  query,
  method,
  headers: extraHeaders,
  flood: headerFlood,
  body,
  framing,
  answer: fc.constantFrom(...ANSWERS),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 6 }),
})

/** A connection: its mount, 1-3 pipelined requests, how its bytes are fragmented, and when the client leaves. */
export function connectionArbitrary(mounts) {
  return fc.record({
    mount: fc.constantFrom(...mounts),
    requests: fc.oneof({ weight: 6, arbitrary: fc.array(request, { minLength: 1, maxLength: 1 }) }, { weight: 1, arbitrary: fc.array(request, { minLength: 2, maxLength: 3 }) }),
    fragments: fc.array(fc.integer({ min: 1, max: 4000 }), { maxLength: 6 }),
    leave: fc.oneof(
      { weight: 12, arbitrary: fc.constant({ at: 'never' }) },
      { weight: 1, arbitrary: fc.record({ at: fc.constantFrom('mid-head', 'mid-body'), fraction: fc.double({ min: 0.05, max: 0.95, noNaN: true }) }) },
      { weight: 1, arbitrary: fc.record({ at: fc.constant('after-write'), ms: fc.integer({ min: 0, max: 30 }) }) },
      { weight: 1, arbitrary: fc.record({ at: fc.constant('mid-response'), bytes: fc.integer({ min: 1, max: 400 }) }) },
    ),
  })
}

// ---- from data to bytes --------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a body is the same bytes every time it is made. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['hello', 'ünïcødé', '✓', '"quoted"', '\\', '\u2028', '😀', '</script>', '{', 'null', '\t', 'sk-?', '...']

/** Words from WORDS, at random, until they make at least `size` UTF-8 bytes. */
function words(rand, size) {
  const out = []
  for (let n = 0; n < size; ) {
    const w = WORDS[Math.floor(rand() * WORDS.length)] + ' '
    out.push(w)
    n += Buffer.byteLength(w)
  }
  return out.join('')
}

function makeBody({ kind, size, seed, stream }) {
  const rand = prng(seed)
  if (kind === 'bytes') {
    const block = Buffer.alloc(Math.min(size, 1024))
    for (let i = 0; i < block.length; i++) block[i] = Math.floor(rand() * 256)
    return size === block.length ? block : Buffer.alloc(size, block)
  }
  // Past a few KiB the words repeat: bodies stay cheap to make, and still differ from one another.
  const text = size <= 4096 ? words(rand, size) : words(rand, 4096).repeat(Math.ceil(size / 4096))
  if (kind === 'text') return Buffer.from(text).subarray(0, size)
  if (size === 0) return Buffer.alloc(0)
  return Buffer.from(JSON.stringify({ model: 'fuzz-model', max_tokens: 16, stream, messages: [{ role: 'user', content: text.slice(0, size) }] }))
}

/** Chunked encoding of `bytes` in pieces of `sizes` (cycled), with the requested malformation. */
function chunked(bytes, sizes, framing) {
  const parts = []
  let pos = 0
  let i = 0
  while (pos < bytes.length) {
    const n = Math.min(sizes[i++ % sizes.length], bytes.length - pos)
    const ext = framing === 'chunk-ext' ? ';name="v";x' : ''
    parts.push(Buffer.from(n.toString(16) + ext + CRLF), bytes.subarray(pos, pos + n), Buffer.from(CRLF))
    pos += n
  }
  switch (framing) {
    case 'bad-chunk-size':
      parts.unshift(Buffer.from('zz' + CRLF + 'x' + CRLF))
      break
    case 'bad-chunk-end':
      parts.unshift(Buffer.from('3' + CRLF + 'abcX' + CRLF))
      break
    case 'chunk-overflow':
      parts.unshift(Buffer.from('fffffffffffffffffff' + CRLF))
      break
  }
  parts.push(Buffer.from(framing === 'chunk-trailers' ? `0${CRLF}x-trailer: t${CRLF}x-api-key: ${CLIENT_KEYS[0]}${CRLF}${CRLF}` : `0${CRLF}${CRLF}`))
  return Buffer.concat(parts)
}

/**
 * The bytes of one request and what the checker needs: `sentBody` is the body as the server will
 * read it (undefined when the framing is broken, so no answer from the provider is expected).
 */
function requestBytes(r, id, prefix) {
  const target = prefixed(prefix, r.prefixStyle, `/${r.providerSegment}${r.rest}${r.query}`)
  const lines = [`${r.method} ${target} HTTP/1.1`, 'host: fuzz.local', `x-fuzz-id: ${id}`, `x-fuzz-answer: ${r.answer}`]
  for (const [name, value] of r.headers) lines.push(`${name}: ${value}`)
  for (let i = 0; i < r.flood; i++) lines.push(`x-flood-${i}: ${'f'.repeat(i % 40)}`)
  const content = makeBody(r.body)
  let framed = Buffer.alloc(0)
  let sentBody = content
  let brokenFraming = false
  switch (r.framing) {
    case 'length':
      lines.push(`content-length: ${content.length}`)
      framed = content
      break
    case 'none':
      sentBody = Buffer.alloc(0)
      break
    case 'two-lengths':
      lines.push(`content-length: ${content.length}`, `content-length: ${content.length + 1}`)
      framed = content
      brokenFraming = true
      break
    case 'length-and-chunked':
      lines.push(`content-length: ${content.length}`, 'transfer-encoding: chunked')
      framed = chunked(content, r.chunkSizes, 'chunked')
      brokenFraming = true
      break
    case 'length-short': {
      // The extra bytes become the start of a next "request" on this connection.
      const n = Math.floor(content.length / 2)
      lines.push(`content-length: ${n}`)
      framed = content
      sentBody = content.subarray(0, n)
      brokenFraming = content.length > n
      break
    }
    case 'te-not-chunked':
      lines.push('transfer-encoding: chunked, identity')
      framed = content
      brokenFraming = true
      break
    case 'lf-only':
      lines.push(`content-length: ${content.length}`)
      framed = content
      brokenFraming = true
      break
    default:
      lines.push('transfer-encoding: chunked')
      framed = chunked(content, r.chunkSizes, r.framing)
      brokenFraming = r.framing === 'bad-chunk-size' || r.framing === 'bad-chunk-end' || r.framing === 'chunk-overflow'
  }
  const eol = r.framing === 'lf-only' ? '\n' : CRLF
  const head = Buffer.from(lines.join(eol) + eol + eol, 'latin1')
  const connection = r.headers.filter(([n]) => n.toLowerCase() === 'connection').map(([, v]) => v.toLowerCase())
  return {
    id,
    method: r.method,
    target,
    provider: r.providerSegment,
    answer: r.answer,
    head,
    bytes: Buffer.concat([head, framed]),
    bodyHash: createHash('sha256').update(sentBody).digest('hex'),
    bodyLength: sentBody.length,
    brokenFraming,
    // What Node's HTTP parser may refuse (a 400 or 431, or a closed connection when an answer to an
    // earlier request is still going out): a framing it rejects, a method or target outside the
    // grammar, a header name that is no token, a control character in a value, a head over 16 KiB.
    mayBeRefused:
      brokenFraming ||
      !STANDARD_METHODS.has(r.method) ||
      /[^\x21-\x7e]|[\\{}|^`\[\]#"<>]/.test(target.replace(/^http:\/\/evil\.example/, '')) ||
      r.headers.some(([n, v]) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n) || /[\x00-\x08\x0a-\x1f\x7f]/.test(v)) ||
      head.length > 16_000,
    // A Connection header naming x-fuzz-id makes the bridge drop it: the mock cannot tell which request came.
    idDropped: connection.some((v) => v.includes('x-fuzz-id')),
    credentialHopByHop: connection.some((v) => /authorization|x-api-key/.test(v)),
    // Connection: upgrade with an Upgrade header: Node stops parsing the connection as HTTP after it.
    upgrades: connection.some((v) => v.includes('upgrade')) && r.headers.some(([n]) => n.toLowerCase() === 'upgrade'),
    expectsContinue: r.headers.some(([n, v]) => n.toLowerCase() === 'expect' && /^100-continue$/i.test(v)),
  }
}

const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'MKCOL', 'QUERY'])

/** The wire form of a generated connection: the requests' bytes, fragmented, and their descriptions. */
export function wire(connection, firstId, prefix) {
  const requests = connection.requests.map((r, i) => requestBytes(r, firstId + i, prefix))
  const all = Buffer.concat(requests.map((r) => r.bytes))
  let end = all.length
  if (connection.leave.at === 'mid-head') end = Math.max(1, Math.floor(requests[0].head.length * connection.leave.fraction))
  if (connection.leave.at === 'mid-body') end = requests[0].head.length + Math.floor((requests[0].bytes.length - requests[0].head.length) * connection.leave.fraction)
  const pieces = []
  let pos = 0
  for (const size of connection.fragments) {
    if (pos >= end) break
    pieces.push(all.subarray(pos, Math.min(end, pos + size)))
    pos += size
  }
  if (pos < end) pieces.push(all.subarray(pos, end))
  // Node destroys a connection on a CONNECT it has no handler for, answers still due on it included.
  const connects = requests.some((r) => r.method === 'CONNECT')
  return { requests, pieces, cut: end < all.length, connects }
}

/** Generated connections, `count` at a time from `seed` (fast-check's sampler). */
export function sampleConnections(mounts, count, seed) {
  return fc.sample(connectionArbitrary(mounts), { numRuns: count, seed })
}
