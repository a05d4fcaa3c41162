import { errors as undiciErrors } from 'undici'
import { judgeAnswer } from './classify.js'
import { CLASSIFY_LIMIT, firstHeader } from './error-body.js'
import type { Exchange } from './exchange.js'
import type { Logger } from './logger.js'
import type { Observers } from './observer.js'
import type { ResolvedOptions } from './options.js'
import { errorResponse, exhaustedResponse, type BridgeResponse } from './respond.js'
import { isEventStream, isPlain } from './headers.js'
import { upstreamPath, type PathBelow } from './path.js'
import { judgeStreamStart } from './stream-start.js'
import { transportFailureMessage } from './transport-failure.js'
import { UpstreamCall } from './upstream-call.js'

// Below this, headers and body idle deadlines get timers of their own (undici's are about a second off).
const PRECISE_DEADLINE_BELOW = 30_000

/** What the failover loop needs from the bridge that runs it. */
export interface Engine {
  readonly options: ResolvedOptions
  readonly logger: Logger
  readonly observers: Observers
  /** Records reach someone without observers (`onInterception`, a logger): model and usage are worth reading. */
  readonly recordsRead: boolean
}

/** A request ready to go upstream, whatever front it came through. */
export interface Outbound {
  method: string
  /** The upstream path: the base URL's path, the provider path, the query verbatim. */
  path: string
  /** The provider path and query of `path` (without a pool request's query credential), for keys with a base URL of their own. */
  below: PathBelow
  /** Headers to send, owned by the loop; credentials already removed for a pool request (each attempt puts its key in). */
  headers: Record<string, string>
  /** Read once, replayed byte for byte on every attempt. */
  body: Buffer | undefined
  /** One attempt with the client's own credential, no pool. */
  byok: boolean
}

/** How the loop ended: a live upstream answer (headers in, body still to relay), or aibridge's own. */
export type Settled = { call: UpstreamCall; response?: undefined } | { call?: undefined; response: BridgeResponse }

/**
 * The failover loop: walk the provider's pool (primary first, or round-robin), put each key into the
 * request, send it, judge the answer, take a failed key out and replay the body on the next one. Only
 * key-specific failures fail over, and only before anything reached the client. BYOK runs one attempt.
 */
export async function runFailover(engine: Engine, ex: Exchange, out: Outbound): Promise<Settled> {
  const { config, pool, dispatcher } = ex.provider
  const { dialect } = config
  const { record } = ex
  const { headersMs, bodyIdleMs, streamStartMs } = engine.options.timeouts
  const walk = out.byok ? undefined : pool.walk()
  if (out.byok) record.credentialKind = 'byok'

  for (;;) {
    if (ex.clientGone) return gone(ex)
    const { headers } = out
    const key = walk?.next()
    let sent = headers
    if (walk) {
      if (!key) return exhausted(engine, ex, walk.exhaustion())
      // One header object for every attempt: each key overwrites the last (undici copies the headers
      // when a request is dispatched).
      dialect.injectKey(headers, key.secret)
      // A key's own headers go on a copy, so they never reach the next key's attempt.
      if (key.headers) sent = { ...headers, ...key.headers }
      record.keysTried.push(key.hint)
      record.credentialHint = key.hint
    }
    record.attempts++

    const call = new UpstreamCall()
    ex.call = call
    if (headersMs < PRECISE_DEADLINE_BELOW) call.deadline(headersMs)
    if (bodyIdleMs < PRECISE_DEADLINE_BELOW) call.idle(bodyIdleMs)
    // A key at an endpoint of its own: the replay goes there (its origin has its own keep-alive pool).
    const endpoint = key?.endpoint
    dispatcher.dispatch(
      {
        // Undefined only for a provider whose keys each bring an endpoint, and BYOK is refused there.
        origin: endpoint ? endpoint.origin : config.origin!,
        path: endpoint ? upstreamPath(endpoint.basePath, out.below) : out.path,
        method: out.method as 'GET',
        headers: sent,
        body: out.body,
        headersTimeout: headersMs,
        bodyTimeout: bodyIdleMs,
      },
      call,
    )
    try {
      await call.head
    } catch (err) {
      return transportFailure(engine, ex, err)
    }
    record.upstreamRequestId = firstHeader(call.headers, dialect.requestIdHeaders)
    if (ex.clientGone) {
      call.abort()
      return gone(ex)
    }
    if (!walk || !key) return { call }

    const streamStart = call.status < 300 && isEventStream(call.headers['content-type']) && isPlain(call.headers['content-encoding'])
    // Success never blames the key: no judging, no extra turn of the event loop.
    if (call.status < 400 && !streamStart) return { call }
    const { verdict, broken } = streamStart ? await judgeStreamStart(dialect, call, streamStartMs) : await judgeAnswer(dialect, call)
    if (ex.clientGone) {
      call.abort()
      return gone(ex)
    }
    if (!verdict.failover) {
      if (broken === undefined) return { call }
      return transportFailure(engine, ex, broken, "the provider's error response broke off")
    }

    const mark = walk.failed(key, verdict.reason, call.status, verdict.cooldownMs)
    const until = Number.isFinite(mark.until) ? mark.until : null
    engine.logger.warn(
      {
        provider: config.name,
        key: key.hint,
        ...(key.endpoint && { origin: key.endpoint.origin }),
        status: call.status,
        reason: verdict.reason,
        state: mark.state,
        cooldownMs: until === null ? null : until - mark.at,
        requestId: record.id,
      },
      'aibridge: key taken out of rotation, failing over',
    )
    if (engine.observers.active) {
      engine.observers.emit('keyMarked', {
        provider: config.name,
        keyId: key.id,
        hint: key.hint,
        reason: mark.reason,
        state: mark.state,
        until,
        status: mark.status ?? call.status,
        at: mark.at,
        requestId: record.id,
        principal: record.principal,
      })
    }
    // The failed answer is not the client's. Draining a small body keeps the connection alive; past
    // the limit the connection is closed instead, so no socket is held either way. A stream that
    // started with an error may never end: it is closed at once.
    if (streamStart) call.abort()
    else call.discard(CLASSIFY_LIMIT)
  }
}

function exhausted(engine: Engine, ex: Exchange, e: Parameters<typeof exhaustedResponse>[1]): Settled {
  ex.settle('exhausted')
  const response = exhaustedResponse(ex.provider.config.dialect, e)
  if (engine.observers.active) {
    const retryAfter = response.headers['retry-after']
    engine.observers.emit('poolExhausted', {
      provider: ex.provider.config.name,
      kind: response.status === 429 ? 'rate_limited' : 'unauthorized',
      retryAfterSeconds: retryAfter === undefined ? null : Number(retryAfter),
      requestId: ex.record.id,
      principal: ex.record.principal,
      at: Date.now(),
    })
  }
  return { response }
}

/** The answer for a client that left: nothing can reach it, and the status is never sent. */
export function gone(ex: Exchange): Settled {
  ex.settle('client_aborted')
  return { response: { status: 499, headers: {}, body: EMPTY } }
}

const EMPTY = Buffer.alloc(0)

function transportFailure(engine: Engine, ex: Exchange, err: unknown, what = 'could not reach the provider'): Settled {
  if (ex.clientGone) return gone(ex)
  const { dialect, name } = ex.provider.config
  const code = (err as { code?: string }).code
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    ex.settle('timeout')
    engine.logger.warn({ provider: name, code, requestId: ex.record.id }, 'aibridge: upstream sent no headers in time')
    return { response: errorResponse(dialect, 504, 'timeout', `the provider sent no response within ${engine.options.timeouts.headersMs} ms`) }
  }
  ex.settle('transport_error')
  const message = transportFailureMessage(err, what)
  engine.logger.warn({ provider: name, code, requestId: ex.record.id }, `aibridge: ${message}`)
  return { response: errorResponse(dialect, 502, 'api_error', message) }
}
