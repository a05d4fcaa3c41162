import type { OutgoingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { Exhaustion } from './key-pool.js'
import type { ErrorDetail, ErrorKind, ProviderDialect } from './providers/index.js'

/** What the bridge answers: adapters hand it to their framework, `handle` writes it itself. */
export interface BridgeResponse {
  status: number
  headers: OutgoingHttpHeaders
  /** A stream for upstream bodies (send it as it flows), a buffer for aibridge's own answers. */
  body: Readable | Buffer
  /**
   * An SSE stream: it must reach the client event by event, so an adapter turns its framework's
   * compression off for it (the headers already say `no-transform`).
   */
  eventStream?: boolean
}

/** A provider-shaped error answer; `detail` is what the body says besides (a retry delay, for Google). */
export function errorResponse(
  dialect: ProviderDialect,
  status: number,
  kind: ErrorKind,
  message: string,
  extra?: OutgoingHttpHeaders,
  detail?: Omit<ErrorDetail, 'status'>,
): BridgeResponse {
  const body = Buffer.from(JSON.stringify(dialect.errorBody(kind, `aibridge: ${message}`, { ...detail, status })), 'utf8')
  return {
    status,
    headers: { 'content-type': 'application/json', 'content-length': body.length, ...extra },
    body,
  }
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many
}

/** The answer when no key is usable: 429 with an honest Retry-After while any key is only cooling, else 502. */
export function exhaustedResponse(dialect: ProviderDialect, e: Exhaustion): BridgeResponse {
  const { total, rateLimited, quota, auth, retryAfterSeconds } = e
  const all = total === 1 ? 'the only configured key' : `all ${total} configured keys`
  const is = total === 1 ? 'is' : 'are'
  const parts: string[] = []
  if (rateLimited > 0) parts.push(`${rateLimited} rate-limited`)
  if (quota > 0) parts.push(`${quota} out of credit or quota`)
  if (auth > 0) parts.push(`${auth} failed authentication`)
  let what: string
  if (parts.length > 1) what = `no usable key: ${all} ${is} out (${parts.join(', ')})`
  else if (auth > 0) what = `${all} failed authentication`
  else if (quota > 0) what = `${all} ${is} out of credit or quota`
  else what = `${all} ${is} rate-limited`
  if (auth > 0 && rateLimited === 0 && quota === 0) {
    // Retrying cannot help until someone fixes or resets the keys.
    return errorResponse(dialect, 502, 'api_error', `${what}; fix or reset ${plural(auth, 'it', 'them')}`, {
      'x-should-retry': 'false',
    })
  }
  const wait = retryAfterSeconds ?? 1
  return errorResponse(dialect, 429, 'rate_limit', `${what} (retry after ${wait}s)`, { 'retry-after': String(wait) }, { retryAfterSeconds: wait })
}
