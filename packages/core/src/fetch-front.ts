import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { BodyTooLargeError } from './body.js'
import { clientHead, relayBody, WebBody } from './deliver.js'
import { Exchange, type Provider } from './exchange.js'
import { runFailover, type Engine, type Settled } from './failover.js'
import { upstreamRequestHeaders } from './headers.js'
import { describeError } from './logger.js'
import type { ResolvedProvider } from './options.js'
import { hostilePath, upstreamPath, type Target } from './path.js'
import { errorResponse } from './respond.js'

/** A `fetch` served by a provider's pool: what `bridge.fetch(provider)` returns. */
export type BridgeFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** What the fetch front needs from the bridge that serves it. */
export interface FetchHost {
  readonly engine: Engine
  /** True once `close()` was called: new requests get a 503. */
  readonly closed: boolean
  /** Counts an exchange as in flight (close() waits for it); the returned function ends it, with its record, once. */
  track(ex: Exchange): () => void
}

// Statuses whose Response must have a null body (the Fetch standard's null body status).
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])
const NO_BODY_METHODS = new Set(['GET', 'HEAD'])

/**
 * The in-process front: a fetch-compatible function whose requests go through the same failover loop
 * as the HTTP ones, with no HTTP hop. The URL's origin is ignored (an SDK's base URL may be anything);
 * its path and query are the provider path, as after `/{provider}` on a mount. Caller credentials are
 * dropped: in-process requests are always served by the pool. Like fetch, it rejects only for a request
 * it cannot make (a bad URL or init, an aborted signal); every answer, aibridge's own errors included,
 * is a Response.
 */
export function fetchFront(host: FetchHost, provider: Provider): BridgeFetch {
  return async function aibridgeFetch(input, init) {
    // Request parses the URL, headers and every body type the Fetch standard has, and throws as fetch would.
    const request = new Request(input, init)
    const { signal } = request
    signal.throwIfAborted()
    const target = fetchTarget(provider.config, request.url)
    const ex = new Exchange(provider, request.method, target)
    const end = host.track(ex)
    const onAbort = (): void => ex.leave()
    signal.addEventListener('abort', onAbort, { once: true })
    let ended = false
    const done = (): void => {
      if (ended) return
      ended = true
      signal.removeEventListener('abort', onAbort)
      end()
    }
    let settled: Settled | undefined
    try {
      settled = await serve(host, ex, request, target, typeof input === 'string' && writtenDotSegment(input))
      if (ex.clientGone) throw signal.reason
      if (settled.call) return streamed(ex, host.engine, settled.call, request, done)
      const { status, headers, body } = settled.response
      ex.record.status = status
      ex.firstByte()
      ex.markFinished()
      done()
      return webResponse(status, headers, body as Buffer, request.url)
    } catch (err) {
      settled?.call?.abort()
      if (signal.aborted) {
        ex.leave()
        done()
        throw signal.reason
      }
      // A bug: the caller gets a 500 in the provider's shape, as an HTTP client would.
      host.engine.logger.error({ provider: provider.config.name, err: describeError(err), requestId: ex.record.id }, 'aibridge: internal error')
      ex.settle('internal_error')
      const { status, headers, body } = errorResponse(provider.config.dialect, 500, 'internal', 'internal error in the gateway')
      ex.record.status = status
      ex.markFinished()
      done()
      return webResponse(status, headers, body as Buffer, request.url)
    }
  }
}

/** A live upstream answer as a Response whose body streams from the upstream with backpressure. */
function streamed(ex: Exchange, engine: Engine, call: NonNullable<Settled['call']>, request: Request, done: () => void): Response {
  const head = clientHead(call)
  ex.record.status = head.status
  const body = new WebBody(call, {
    closed(complete) {
      if (complete) ex.markFinished()
      done()
    },
    cancelled: () => ex.leave(),
    failure: (cause) => (request.signal.aborted ? request.signal.reason : new TypeError('aibridge: the provider response broke off', { cause })),
  })
  relayBody(engine, ex, call, head.eventStream, body)
  const empty = NULL_BODY_STATUSES.has(head.status) || request.method === 'HEAD'
  return webResponse(head.status, head.headers, empty ? null : body.stream, request.url)
}

async function serve(host: FetchHost, ex: Exchange, request: Request, target: Target, dotSegment: boolean): Promise<Settled> {
  const { config, pool } = ex.provider
  const rejected = (status: number, kind: Parameters<typeof errorResponse>[2], message: string): Settled => {
    ex.settle('rejected')
    return { response: errorResponse(config.dialect, status, kind, message) }
  }
  if (host.closed) return rejected(503, 'unavailable', 'the gateway is shutting down')
  const hostile = dotSegment ? 'the path contains a dot segment' : hostilePath(target)
  if (hostile) return rejected(400, 'invalid_request', `invalid path: ${hostile}`)
  if (pool.keys.length === 0) return rejected(401, 'authentication', `provider '${config.name}' has no key pool, and bridge.fetch serves from the pool only`)

  const limit = host.engine.options.bodyLimit
  let body: Buffer | undefined
  try {
    body = await readRequestBody(request, limit)
  } catch (err) {
    if (err instanceof BodyTooLargeError) return rejected(413, 'too_large', `request body is larger than the ${limit} byte limit`)
    throw err
  }

  const incoming: IncomingHttpHeaders = {}
  request.headers.forEach((value, name) => (incoming[name] = value))
  const headers = upstreamRequestHeaders(incoming, true, false)
  // fetch decodes a compressed answer for its caller; this front hands the bytes over as they come,
  // so it asks for none (an absent Accept-Encoding would allow any, RFC 9110 section 12.5.3).
  headers['accept-encoding'] = 'identity'
  const method = ex.record.method
  // A credential in the query (Gemini's `key=`) is the caller's, dropped like its headers.
  const below = { rest: target.rest, search: config.dialect.stripCredential(target.search) }
  return runFailover(host.engine, ex, {
    method,
    path: upstreamPath(config.basePath, below),
    below,
    headers,
    body: body === undefined && !NO_BODY_METHODS.has(method) ? EMPTY : body,
    byok: false,
  })
}

const EMPTY = Buffer.alloc(0)

/**
 * The provider path of a fetch URL: its path and query, whatever its origin. A URL on the provider's
 * own origin that starts with the base URL's path (an SDK left at the provider's real URL) loses that
 * prefix, so it is not doubled.
 */
export function fetchTarget(config: ResolvedProvider, href: string): Target {
  const url = new URL(href)
  let rest = url.pathname
  const base = config.basePath
  if (base !== '' && url.origin === config.origin && (rest === base || rest.startsWith(`${base}/`))) rest = rest.slice(base.length) || '/'
  return { provider: config.name, rest, search: url.search }
}

/**
 * True for a URL string with a `.` or `..` segment as written: URL parsing resolves them silently, and
 * the HTTP front refuses them, so this front does too.
 */
function writtenDotSegment(input: string): boolean {
  return /\/(?:\.|%2e){1,2}(?:[/;]|$)/i.test(input.split(/[?#]/, 1)[0]!)
}

/** Reads a Request body once, whole, within `limit` (it is replayed on failover); undefined for none. */
async function readRequestBody(request: Request, limit: number): Promise<Buffer | undefined> {
  if (request.body === null) return undefined
  const reader = request.body.getReader()
  const { signal } = request
  // A body stream that stalls must not outlive an abort.
  let stop!: () => void
  const aborted = new Promise<never>((_, reject) => {
    stop = (): void => reject(signal.reason)
  })
  aborted.catch(() => {})
  if (signal.aborted) stop()
  else signal.addEventListener('abort', stop, { once: true })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted])
      if (done) break
      size += value.byteLength
      if (size > limit) throw new BodyTooLargeError(limit)
      chunks.push(value)
    }
  } catch (err) {
    reader.cancel(err).catch(() => {})
    throw err
  } finally {
    signal.removeEventListener('abort', stop)
  }
  return Buffer.concat(chunks, size)
}

/** A Response with the headers of a node:http answer (a Connection field means nothing in a Response). */
function webResponse(status: number, headers: OutgoingHttpHeaders, body: ConstructorParameters<typeof Response>[0], url: string): Response {
  const out = new Headers()
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || name === 'connection') continue
    if (Array.isArray(value)) for (const v of value) out.append(name, v)
    else out.set(name, String(value))
  }
  const response = new Response(body, { status, headers: out })
  // fetch's Response carries the URL it was asked for; some clients log it.
  Object.defineProperty(response, 'url', { value: url })
  return response
}
