import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { decodableAcceptEncoding } from './encoding.js'

/** Where a client sends the host's own token when its provider header carries its own provider key (BYOK with `authenticate`). */
export const TOKEN_HEADER = 'x-aibridge-token'

// RFC 9110 section 7.6.1 hop-by-hop fields, plus the ones a proxy must not pass on:
// framing (recomputed), routing (Host, Forwarded, X-Forwarded-*), the client's cookies, and the
// host's own token, which is never the provider's business (with or without `authenticate`).
const REQUEST_DROP = new Set([
  TOKEN_HEADER,
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'expect',
  'host',
  'cookie',
  'forwarded',
  'x-real-ip',
  'content-length',
])

/**
 * Credentials a client may send; on centralized requests none of them go upstream. (A credential in
 * the query string, Gemini's `key=`, is the dialect's `stripCredential`.)
 */
const CREDENTIALS = new Set(['authorization', 'x-api-key', 'api-key', 'x-goog-api-key'])

// RFC 9110 section 5.1: a field name is a token.
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/
// RFC 9110 section 5.5: visible characters, spaces and tabs inside; no CR, LF or NUL (they would
// split the request).
const FIELD_VALUE = /^[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?$/

/**
 * Why `name` (lowercased) cannot be one of a key's extra headers, or undefined when it can: not a
 * credential (the key goes where the dialect puts it) and nothing the bridge drops or computes itself.
 */
export function refusedExtraHeader(name: string): string | undefined {
  if (!FIELD_NAME.test(name)) return 'is not a valid header name'
  if (CREDENTIALS.has(name) || name === 'proxy-authorization') return 'is a credential header: the key itself goes where the provider expects it'
  if (REQUEST_DROP.has(name) || name.startsWith('x-forwarded-')) return 'is a hop-by-hop or routing header the bridge never forwards'
  // The body's coding is the client's, and an answer must come in a coding the bridge can read to classify it.
  if (name === 'content-encoding' || name === 'accept-encoding') return 'is a body coding header the client and the bridge decide'
  return undefined
}

/** True when `value` can be sent as a header value as it is (no control characters, no outer whitespace). */
export function isHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value)
}

// Upstream fields that describe the upstream's own connection or origin, not this response.
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'alt-svc',
  'strict-transport-security',
])

function connectionNamed(value: string | string[] | undefined): Set<string> | undefined {
  // The common values name only fields that are dropped anyway: nothing to split.
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined
  const list = Array.isArray(value) ? value.join(',') : value
  const names = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
  return names.length > 0 ? new Set(names) : undefined
}

/**
 * The headers to send upstream. `centralized` (a pool key serves) removes every credential header
 * (the dialect then injects the key) and narrows Accept-Encoding to codings an error answer can be
 * classified in; `dropContentEncoding` is for bodies a host parser already decoded.
 */
export function upstreamRequestHeaders(
  given: IncomingHttpHeaders,
  centralized: boolean,
  dropContentEncoding: boolean,
): Record<string, string> {
  const incoming = lowerCaseNames(given)
  const named = connectionNamed(incoming.connection)
  const out: Record<string, string> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value === undefined) continue
    if (REQUEST_DROP.has(name) || name.startsWith('x-forwarded-') || named?.has(name)) continue
    if (centralized && CREDENTIALS.has(name)) continue
    if (dropContentEncoding && name === 'content-encoding') continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  const accepted = out['accept-encoding']
  if (centralized && accepted !== undefined) out['accept-encoding'] = decodableAcceptEncoding(accepted)
  return out
}

const UPPER = /[A-Z]/

/**
 * Node lowercases the header names it parses, but a host middleware may have set `X-Api-Key` or
 * `Connection` itself: every rule here matches lowercase names, so a name in any other case is folded
 * in (values of one name in several cases kept together) rather than let through unfiltered.
 */
function lowerCaseNames(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  let upper = false
  for (const name in headers) if (UPPER.test(name)) upper = true
  if (!upper) return headers
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    const seen = out[lower]
    out[lower] = seen === undefined ? value : ([] as string[]).concat(seen, value)
  }
  return out
}

/** The upstream response headers to give the client. */
export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const named = connectionNamed(upstream.connection)
  const out: OutgoingHttpHeaders = {}
  for (const name in upstream) {
    const value = upstream[name]
    if (value === undefined || RESPONSE_DROP.has(name) || named?.has(name)) continue
    // A field that can hold one value only (RFC 9110 section 5.3): a repeated one keeps the first,
    // since frameworks (Koa) refuse an array there.
    out[name] = Array.isArray(value) && SINGLETON.has(name) ? value[0] : value
  }
  return out
}

const SINGLETON = new Set(['content-type', 'content-length', 'content-encoding', 'location', 'retry-after'])

export function isEventStream(contentType: string | string[] | undefined): boolean {
  const v = Array.isArray(contentType) ? contentType[0] : contentType
  return v !== undefined && /^\s*text\/event-stream\b/i.test(v)
}

/** True for a body sent as it is (no Content-Encoding, or identity): one aibridge can read and append to. */
export function isPlain(contentEncoding: string | string[] | undefined): boolean {
  return contentEncoding === undefined || contentEncoding === 'identity'
}

/** Headers that keep an SSE response flowing event by event through caches, compressors and nginx. */
export const SSE_HEADERS = { 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' } as const
