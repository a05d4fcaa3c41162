import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline, Readable } from 'node:stream'
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici'
import { BodyStreamError, BodyTooLargeError, bodyFromHost, ClientGoneError, declaresBody, EMPTY, HostBodyError, readBody, streamConsumed } from './body.js'
import { classify } from './classify.js'
import { CLASSIFY_LIMIT, firstHeader, headerGetter, parseJson, readSmall } from './error-body.js'
import { AibridgeKeyNotFoundError } from './errors.js'
import { Exchange, type Provider } from './exchange.js'
import { clientResponseHeaders, isEventStream, SSE_HEADERS, upstreamRequestHeaders } from './headers.js'
import { KeyPool, type KeyState, type PoolKey } from './key-pool.js'
import { MemoryKeyStore, type KeyStateStore } from './key-store.js'
import { safeLogger, type Logger } from './logger.js'
import { resolveOptions, type BridgeOptions, type ResolvedOptions, type ResolvedProvider } from './options.js'
import { hostilePath, splitTarget, upstreamPath, type Target } from './path.js'
import type { InterceptionRecord } from './record.js'
import { UpstreamRelay } from './relay.js'
import { errorResponse, exhaustedResponse, type BridgeResponse } from './respond.js'

export type NextFunction = (err?: unknown) => void

/** For adapters: what the framework already knows about the request. */
export interface DispatchOptions {
  /** The path below the mount point, starting with '/', query included. @default req.url */
  path?: string
  /**
   * The body a host framework already read (raw buffer, string, or parsed object), used only when the
   * request stream was consumed (an untouched stream is read instead); or a stream a host put in front
   * of the request (a decoding hook), which the bridge reads within its limit.
   */
  body?: unknown
}

export interface HandleOptions extends DispatchOptions {
  /** Called for paths that name no configured provider; without it they get a JSON 404. */
  next?: NextFunction
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD'])

/**
 * A key pool with failover in front of one or more LLM providers. Create it with `createBridge`.
 */
export class Bridge {
  readonly #options: ResolvedOptions
  readonly #providers = new Map<string, Provider>()
  readonly #upstreams = new Map<string, Pool>()
  readonly #store: KeyStateStore
  readonly #logger: Logger
  readonly #onInterception: ((record: InterceptionRecord) => void) | undefined
  #closed = false
  #closing: Promise<void> | undefined
  // Requests being served, so close() can wait for them before closing the upstream pools.
  #active = 0
  #drained: (() => void) | undefined

  constructor(options: BridgeOptions) {
    this.#options = resolveOptions(options)
    this.#store = options.store ?? new MemoryKeyStore()
    this.#logger = safeLogger(options.logger)
    this.#onInterception = options.onInterception
    const { timeouts, cooldowns } = this.#options
    for (const config of this.#options.providers.values()) {
      let upstream = this.#upstreams.get(config.origin)
      if (!upstream) {
        upstream = new Pool(config.origin, {
          connect: { timeout: timeouts.connectMs },
          headersTimeout: timeouts.headersMs,
          bodyTimeout: timeouts.bodyIdleMs,
        })
        this.#upstreams.set(config.origin, upstream)
      }
      const pool = new KeyPool(config.name, config.keys, config.keyOrder, cooldowns, this.#store, (op, err) =>
        this.#logger.error({ provider: config.name, op, err: describe(err) }, 'aibridge: key store failed; serving from local state'),
      )
      this.#providers.set(config.name, { config, pool, upstream })
    }
  }

  /**
   * Serves a request: a plain `node:http` handler, or Connect/Express middleware when given `next`.
   * Resolves once the response is under way (written, or piped from the provider).
   */
  async handle(req: IncomingMessage, res: ServerResponse, nextOrOptions?: NextFunction | HandleOptions): Promise<void> {
    const options = typeof nextOrOptions === 'function' ? { next: nextOrOptions } : (nextOrOptions ?? {})
    const response = await this.dispatch(req, res, options)
    if (!response) {
      if (options.next) return options.next()
      const body = Buffer.from(JSON.stringify({ error: { message: 'aibridge: no provider at this path', type: 'not_found_error' } }))
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': body.length }).end(body)
      return
    }
    const { body } = response
    if (res.destroyed || res.headersSent) {
      // Gone, or a host wrote first: nothing can be sent, and the upstream must not be left open.
      if (!Buffer.isBuffer(body)) body.destroy()
      if (res.headersSent && !res.writableEnded) res.destroy()
      return
    }
    res.writeHead(response.status, response.headers)
    if (Buffer.isBuffer(body)) {
      res.end(body)
      return
    }
    // On a truncated non-SSE body the relay errors and pipeline destroys `res`: the client sees a reset, not a clean end.
    pipeline(body, res, () => {})
  }

  /**
   * The core of `handle` for framework adapters: returns the response to send (the adapter sends it
   * the framework's way), or undefined when the path names no configured provider.
   */
  async dispatch(req: IncomingMessage, res: ServerResponse, options: DispatchOptions = {}): Promise<BridgeResponse | undefined> {
    const target = splitTarget(options.path ?? req.url ?? '/')
    const provider = target && this.#providers.get(target.provider)
    if (!target || !provider) return undefined
    const ex = new Exchange(provider, req, res, target)
    if (res.destroyed) {
      // The client left before the bridge was reached (a slow host middleware ran first): its
      // response has closed already and will not say so again.
      ex.leave()
      const gone = this.#gone(ex)
      this.#emit(ex)
      return gone
    }
    // 'finish', not res.writableFinished: a response double such as Fastify's inject() (light-my-request)
    // emits the events but keeps that flag false.
    res.once('finish', () => ex.markFinished())
    this.#active++
    res.once('close', () => {
      if (!ex.finished) ex.leave()
      if (--this.#active === 0) this.#drained?.()
      this.#emit(ex)
    })
    let response: BridgeResponse
    try {
      response = await this.#serve(ex, target, options)
    } catch (err) {
      this.#logger.error({ provider: provider.config.name, err: describe(err) }, 'aibridge: internal error')
      ex.settle('internal_error')
      response = errorResponse(provider.config.dialect, 500, 'internal', 'internal error in the gateway')
    }
    ex.record.status = ex.clientGone ? null : response.status
    // aibridge's own answers go out whole, at once.
    if (Buffer.isBuffer(response.body) && !ex.clientGone) ex.firstByte()
    return response
  }

  async #serve(ex: Exchange, target: Target, options: DispatchOptions): Promise<BridgeResponse> {
    const { config, pool } = ex.provider
    const { dialect } = config
    const { req } = ex

    if (this.#closed) {
      ex.settle('rejected')
      return errorResponse(dialect, 503, 'unavailable', 'the gateway is shutting down', { connection: 'close' })
    }
    const hostile = hostilePath(target)
    if (hostile) {
      ex.settle('rejected')
      return errorResponse(dialect, 400, 'invalid_request', `invalid path: ${hostile}`)
    }

    const byok = dialect.hasCredential(req.headers) && this.#allowsByok(config, req)
    if (byok) ex.record.credentialKind = 'byok'
    else if (pool.keys.length === 0) {
      ex.settle('rejected')
      return errorResponse(dialect, 401, 'authentication', `provider '${config.name}' has no key pool: send your own credential`)
    }

    let body: Buffer
    const given = options.body
    const fromHost = given !== undefined && (given instanceof Readable || streamConsumed(req))
    const limit = this.#options.bodyLimit
    try {
      if (!fromHost) {
        // Read by a host middleware that handed nothing over: the stream is spent, not empty.
        if (streamConsumed(req) && declaresBody(req)) throw HostBodyError.vanished()
        body = await readBody(req, limit, Number(req.headers['content-length']))
      } else if (given instanceof Readable) body = await readBody(given, limit, undefined, true)
      // A parser that saw an empty body still hands over a value (`{}` from express.json()).
      else if (req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined) body = EMPTY
      else body = bodyFromHost(given, req.headers['content-type'])
    } catch (err) {
      if (err instanceof BodyTooLargeError) return this.#tooLarge(ex)
      if (err instanceof HostBodyError) {
        // The host's setup, not the client, is at fault: a 500 the host's error log explains.
        ex.settle('rejected')
        this.#logger.error({ provider: config.name, requestId: ex.record.id }, `aibridge: ${err.message}`)
        return errorResponse(dialect, 500, 'internal', err.message)
      }
      if (err instanceof ClientGoneError) return this.#gone(ex)
      if (err instanceof BodyStreamError) {
        // A host stream fails too when the client leaves mid-upload; otherwise the input was bad
        // (a corrupt gzip body behind a decompressing hook, say).
        if (ex.clientGone || (req.destroyed && !req.complete)) return this.#gone(ex)
        ex.settle('rejected')
        this.#logger.warn({ provider: config.name, code: err.code, requestId: ex.record.id }, 'aibridge: the request body could not be read')
        return errorResponse(dialect, 400, 'invalid_request', err.message, { connection: 'close' })
      }
      throw err
    }
    if (body.length > limit) return this.#tooLarge(ex)

    const baseHeaders = upstreamRequestHeaders(req.headers, !byok, fromHost)
    const method = ex.record.method
    const requestBody = body.length === 0 && NO_BODY_METHODS.has(method) ? undefined : body
    const path = upstreamPath(config.basePath, target)
    const walk = byok ? undefined : pool.walk()

    for (;;) {
      if (ex.clientGone) return this.#gone(ex)
      let key: PoolKey | undefined
      const headers = { ...baseHeaders }
      if (walk) {
        key = walk.next()
        if (!key) {
          ex.settle('exhausted')
          return exhaustedResponse(dialect, walk.exhaustion())
        }
        dialect.injectKey(headers, key.secret)
        ex.record.keysTried.push(key.hint)
        ex.record.credentialHint = key.hint
      }
      ex.record.attempts++

      let up: Dispatcher.ResponseData
      // undici's own timers are coarse (about a second); this one keeps `timeouts.headersMs` exact.
      let headersLate = false
      const timer = setTimeout(() => {
        headersLate = true
        ex.controller.abort()
      }, this.#options.timeouts.headersMs)
      try {
        up = await ex.provider.upstream.request({
          path,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: requestBody,
          signal: ex.controller.signal,
        })
      } catch (err) {
        return this.#transportFailure(ex, headersLate ? new undiciErrors.HeadersTimeoutError() : err)
      } finally {
        clearTimeout(timer)
      }
      if (headersLate) {
        // The deadline passed in the tick the headers came: the abort has already cut this body.
        up.body.on('error', () => {})
        up.body.destroy()
        return this.#transportFailure(ex, new undiciErrors.HeadersTimeoutError())
      }
      ex.record.upstreamRequestId = firstHeader(up.headers, dialect.requestIdHeaders)
      if (ex.clientGone) {
        up.body.destroy()
        return this.#gone(ex)
      }
      if (!walk || !key) return this.#relay(ex, up)

      let prefix: Buffer | undefined
      let parsed: unknown
      let broken: unknown
      if (dialect.needsBody(up.statusCode)) {
        try {
          const small = await readSmall(up.body)
          prefix = small.bytes
          if (small.complete) parsed = parseJson(small.bytes, firstHeader(up.headers, ['content-encoding']) ?? undefined)
        } catch (err) {
          // The status line and headers arrived: a 429 or 401 still says the key is out, body or not.
          if (ex.clientGone) return this.#gone(ex)
          broken = err
        }
      }
      const verdict = classify(dialect, up.statusCode, headerGetter(up.headers), parsed)
      if (!verdict.failover) {
        return broken === undefined ? this.#relay(ex, up, prefix) : this.#transportFailure(ex, broken, "the provider's error response broke off")
      }

      const mark = walk.failed(key, verdict.reason, up.statusCode, verdict.cooldownMs)
      this.#logger.warn(
        {
          provider: config.name,
          key: key.hint,
          status: up.statusCode,
          reason: verdict.reason,
          state: mark.state,
          cooldownMs: Number.isFinite(mark.until) ? mark.until - mark.at : null,
          requestId: ex.record.id,
        },
        'aibridge: key taken out of rotation, failing over',
      )
      // The failed answer is not the client's. Draining a small body keeps the connection alive;
      // dump() destroys the stream past its limit, so no socket is held either way.
      if (broken !== undefined) continue
      if (prefix === undefined) up.body.dump({ limit: CLASSIFY_LIMIT }).catch(() => {})
      else if (!up.body.readableEnded) {
        // readSmall stopped listening past its limit; destroying emits an abort error nobody needs.
        up.body.on('error', () => {})
        up.body.destroy()
      }
    }
  }

  #allowsByok(config: ResolvedProvider, req: IncomingMessage): boolean {
    const mode = config.byok
    if (mode === 'auto') return true
    if (mode === false) return false
    const decision: unknown = mode(req, config.name)
    if (decision !== null && typeof decision === 'object' && typeof (decision as Promise<unknown>).then === 'function') {
      ;(decision as Promise<unknown>).then(undefined, () => {})
      throw new TypeError('the byok function must return a boolean, not a promise')
    }
    return decision === true
  }

  #tooLarge(ex: Exchange): BridgeResponse {
    ex.settle('rejected')
    return errorResponse(
      ex.provider.config.dialect,
      413,
      'too_large',
      `request body is larger than the ${this.#options.bodyLimit} byte limit`,
      { connection: 'close' },
    )
  }

  #gone(ex: Exchange): BridgeResponse {
    ex.settle('client_aborted')
    return { status: 499, headers: {}, body: EMPTY }
  }

  #transportFailure(ex: Exchange, err: unknown, what = 'could not reach the provider'): BridgeResponse {
    if (ex.clientGone) return this.#gone(ex)
    const { dialect, name } = ex.provider.config
    const code = (err as { code?: string }).code
    if (err instanceof undiciErrors.HeadersTimeoutError) {
      ex.settle('timeout')
      this.#logger.warn({ provider: name, code, requestId: ex.record.id }, 'aibridge: upstream sent no headers in time')
      return errorResponse(dialect, 504, 'timeout', `the provider sent no response within ${this.#options.timeouts.headersMs} ms`)
    }
    ex.settle('transport_error')
    this.#logger.warn({ provider: name, code, requestId: ex.record.id }, `aibridge: ${what}`)
    const detail = code === 'UND_ERR_HEADERS_OVERFLOW' ? "the provider's response headers were larger than aibridge accepts" : what
    return errorResponse(dialect, 502, 'api_error', `${detail}${code ? ` (${code})` : ''}`)
  }

  #relay(ex: Exchange, up: Dispatcher.ResponseData, prefix?: Buffer): BridgeResponse {
    const headers = clientResponseHeaders(up.headers)
    const sse = isEventStream(up.headers['content-type'])
    if (sse) Object.assign(headers, SSE_HEADERS)
    const dialect = ex.provider.config.dialect
    // An error event can only be appended to a body the client reads as plain text.
    const encoded = up.headers['content-encoding'] !== undefined && up.headers['content-encoding'] !== 'identity'
    const body = new UpstreamRelay(up.body, {
      prefix,
      idleMs: this.#options.timeouts.bodyIdleMs,
      sseErrorEvent: sse && !encoded ? () => dialect.sseErrorEvent('aibridge: the provider stream ended unexpectedly') : undefined,
      onFirstChunk: () => ex.firstByte(),
      clientGone: () => ex.clientGone,
      onTruncated: (err, graceful) => {
        ex.settle('truncated')
        this.#logger.warn(
          { provider: ex.provider.config.name, code: (err as { code?: string }).code, graceful, requestId: ex.record.id },
          'aibridge: upstream body ended mid-way',
        )
        if (!graceful) ex.res.destroy()
      },
    })
    return { status: up.statusCode, headers, body, eventStream: sse }
  }

  #emit(ex: Exchange): void {
    const record = ex.finish()
    if (!record || !this.#onInterception) return
    // A copy: the exchange may still be settling (a client that left mid-request) when it goes out.
    const snapshot: InterceptionRecord = { ...record, keysTried: [...record.keysTried] }
    try {
      const result = this.#onInterception(snapshot) as unknown
      if (result && typeof (result as Promise<unknown>).catch === 'function') {
        ;(result as Promise<unknown>).catch((err: unknown) => this.#callbackFailed(err))
      }
    } catch (err) {
      this.#callbackFailed(err)
    }
  }

  #callbackFailed(err: unknown): void {
    this.#logger.error({ err: describe(err) }, 'aibridge: onInterception threw')
  }

  /** The configured providers' names: the first path segment each answers on. */
  get providerNames(): string[] {
    return [...this.#providers.keys()]
  }

  /** Every key of every provider with its current state. */
  keyStates(): Record<string, KeyState[]> {
    const now = Date.now()
    const out: Record<string, KeyState[]> = {}
    for (const [name, p] of this.#providers) out[name] = p.pool.states(now)
    return out
  }

  /** Puts a key back into service, by id or hint. Throws when none or several keys match. */
  resetKey(provider: string, idOrHint: string): void {
    if (typeof provider !== 'string' || typeof idOrHint !== 'string') {
      throw new AibridgeKeyNotFoundError(`resetKey(provider, idOrHint) takes two strings, got ${typeof provider} and ${typeof idOrHint}`)
    }
    const p = this.#providers.get(provider)
    // Not echoed: a key passed in the wrong argument must not end up in a log.
    if (!p) throw new AibridgeKeyNotFoundError(`no such provider (configured: ${[...this.#providers.keys()].join(', ')})`)
    const found = p.pool.find(idOrHint)
    if (found.length === 0) {
      // A key passed here by mistake must not end up in an error message (and so in a log): only
      // echo a value shaped like an id or a hint.
      const shown = /^k_[0-9a-f]{16}$/.test(idOrHint) || (idOrHint.length <= 11 && idOrHint.includes('...')) ? `'${idOrHint}'` : '(value not shown)'
      throw new AibridgeKeyNotFoundError(`no key of '${provider}' has id or hint ${shown}`)
    }
    if (found.length > 1) {
      throw new AibridgeKeyNotFoundError(`hint '${idOrHint}' matches ${found.length} keys of '${provider}'; use an id (${found.map((k) => k.id).join(', ')})`)
    }
    p.pool.reset(found[0]!)
  }

  /**
   * Resolves once the key store has loaded the shared key state (a shared store such as Redis), so the
   * first request already skips keys other processes took out. Never rejects: a store that fails here
   * is logged and the bridge serves from local state.
   */
  async ready(): Promise<void> {
    try {
      await this.#store.ready?.()
    } catch (err) {
      this.#logger.error({ err: describe(err) }, 'aibridge: key store failed to get ready; serving from local state')
    }
  }

  /**
   * Closes upstream connections (after in-flight requests end) and the key store. Every call, the
   * first included, resolves once all of that is done.
   */
  close(): Promise<void> {
    this.#closed = true
    return (this.#closing ??= this.#shutdown())
  }

  async #shutdown(): Promise<void> {
    // A request in flight may still fail over to another key: the pools stay open until it ends.
    if (this.#active > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()))
    // A store that fails to close (its connection already gone, say) must not fail the host's shutdown.
    try {
      await this.#store.close?.()
    } catch (err) {
      this.#logger.error({ err: describe(err) }, 'aibridge: key store failed to close')
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}

/** Creates a bridge; options are validated here, with errors that name the option. */
export function createBridge(options: BridgeOptions): Bridge {
  return new Bridge(options)
}
