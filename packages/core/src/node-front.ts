import type { IncomingMessage, ServerResponse } from 'node:http'
import { authenticateRequest } from './authenticate.js'
import { BodyStreamError, BodyTooLargeError, ClientGoneError, HostBodyError, requestBody } from './body.js'
import { usesOwnCredential } from './byok.js'
import { BodyStream, clientHead, relayBody, responseSink, wholeBody } from './deliver.js'
import { Exchange, type Provider } from './exchange.js'
import { gone, runFailover, type Engine, type Settled } from './failover.js'
import { upstreamRequestHeaders } from './headers.js'
import { withIncludeUsage } from './include-usage.js'
import type { Ledger } from './ledger.js'
import { describeError } from './logger.js'
import { hostilePath, upstreamPath, type Target } from './path.js'
import { onRequestEnd } from './request-end.js'
import { errorResponse, type BridgeResponse } from './respond.js'
import { unshareSwappedShape } from './swapped-shape.js'

const NO_BODY_METHODS = new Set(['GET', 'HEAD'])
const CHAT_PATH = /\/chat\/completions\/?$/

/**
 * Starts a node:http request's bookkeeping: it ends exactly once, with its record, however its
 * connection ends.
 */
export function acceptNodeRequest(ledger: Ledger, provider: Provider, req: IncomingMessage, res: ServerResponse, target: Target): Exchange {
  // Behind Express: no hidden class per request from here on (see swapped-shape.ts).
  unshareSwappedShape(req)
  unshareSwappedShape(res)
  const ex = new Exchange(provider, req.method ?? 'GET', target)
  const end = ledger.track(ex)
  if (res.destroyed) {
    // The client left before the bridge was reached (a slow host middleware ran first): its
    // response has closed already and will not say so again.
    ex.leave()
    queueMicrotask(end)
    return ex
  }
  onRequestEnd(req, res, (finished) => {
    if (finished) ex.markFinished()
    else ex.leave()
    end()
  })
  return ex
}

/** Sends what the loop settled on through `res` itself (the plain node:http handler, Connect, Express). */
export function answerNodeRequest(engine: Engine, ex: Exchange, settled: Settled, res: ServerResponse): void {
  if (settled.response) {
    const { status, headers, body } = ownAnswer(ex, settled.response)
    if (writable(res)) res.writeHead(status, headers).end(body)
    return
  }
  const { call } = settled
  const head = clientHead(call)
  ex.record.status = head.status
  if (!writable(res)) {
    call.abort()
    return
  }
  if (call.complete) {
    res.writeHead(head.status, head.headers).end(wholeBody(engine, ex, call, head.eventStream))
    return
  }
  res.writeHead(head.status, head.headers)
  // An event stream whose first event has not come yet: the client learns at once that it started.
  if (head.eventStream && call.empty) res.flushHeaders()
  relayBody(engine, ex, call, head.eventStream, responseSink(res, call))
}

/** What the loop settled on, as a response for a framework adapter to send its own way (Koa, Fastify). */
export function adapterAnswer(engine: Engine, ex: Exchange, settled: Settled, res: ServerResponse): BridgeResponse {
  if (settled.response) return ownAnswer(ex, settled.response)
  const { call } = settled
  const head = clientHead(call)
  ex.record.status = head.status
  if (call.complete) return { ...head, body: wholeBody(engine, ex, call, head.eventStream) }
  const body = new BodyStream(call, res)
  relayBody(engine, ex, call, head.eventStream, body)
  return { ...head, body }
}

/** aibridge's own answer (an error, or the 499 of a client that left): it goes out whole, at once. */
function ownAnswer(ex: Exchange, response: BridgeResponse): BridgeResponse {
  ex.record.status = ex.clientGone ? null : response.status
  if (!ex.clientGone) ex.firstByte()
  return response
}

/** False when nothing can be sent: the client is gone, or a host wrote first (its response is reset if open). */
function writable(res: ServerResponse): boolean {
  if (!res.destroyed && !res.headersSent) return true
  if (res.headersSent && !res.writableEnded) res.destroy()
  return false
}

/**
 * A node:http request (plain, or through a framework adapter) up to the failover loop: refuse what must
 * not go upstream, decide BYOK, read the body once, and run the loop. Never throws: a bug is a 500.
 */
export function serveNodeRequest(engine: Engine, ex: Exchange, req: IncomingMessage, target: Target, hostBody: unknown, closed: boolean): Promise<Settled> {
  return serve(engine, ex, req, target, hostBody, closed).catch((err: unknown) => {
    engine.logger.error({ provider: ex.provider.config.name, err: describeError(err) }, 'aibridge: internal error')
    ex.settle('internal_error')
    return { response: errorResponse(ex.provider.config.dialect, 500, 'internal', 'internal error in the gateway') }
  })
}

function rejected(ex: Exchange, status: number, kind: Parameters<typeof errorResponse>[2], message: string, close = false): Settled {
  ex.settle('rejected')
  return { response: errorResponse(ex.provider.config.dialect, status, kind, message, close ? { connection: 'close' } : undefined) }
}

async function serve(engine: Engine, ex: Exchange, req: IncomingMessage, target: Target, hostBody: unknown, closed: boolean): Promise<Settled> {
  const { config, pool } = ex.provider
  if (closed) {
    ex.settle('rejected')
    return { response: errorResponse(config.dialect, 503, 'unavailable', 'the gateway is shutting down', { connection: 'close' }) }
  }
  const hostile = hostilePath(target)
  if (hostile) return rejected(ex, 400, 'invalid_request', `invalid path: ${hostile}`)

  // With `authenticate`, the provider header holds the host's token unless the client put the token in
  // x-aibridge-token: only then may a provider credential be the client's own (BYOK).
  const { authenticate } = engine.options
  let byokAllowed = true
  if (authenticate) {
    const auth = await authenticateRequest(engine, ex, req, target, authenticate)
    if (auth.response) return auth
    if (ex.clientGone) return gone(ex)
    byokAllowed = auth.byokSignalled
  }
  const byok = byokAllowed && usesOwnCredential(config, req.headers, target.search, req)
  if (!byok && pool.keys.length === 0) {
    const how = authenticate ? 'send your own provider credential, with your token in x-aibridge-token' : 'send your own credential'
    return rejected(ex, 401, 'authentication', `provider '${config.name}' has no key pool: ${how}`)
  }
  if (byok && config.origin === undefined) {
    ex.record.credentialKind = 'byok'
    return rejected(ex, 400, 'invalid_request', `provider '${config.name}' has no baseURL of its own (each key brings its endpoint), so a request with its own credential has nowhere to go: send it without one`)
  }

  const limit = engine.options.bodyLimit
  let body: Buffer
  let fromHost: boolean
  try {
    ;({ body, fromHost } = await requestBody(req, hostBody, limit))
  } catch (err) {
    if (err instanceof BodyTooLargeError) return rejected(ex, 413, 'too_large', `request body is larger than the ${limit} byte limit`, true)
    if (err instanceof HostBodyError) {
      // The host's setup, not the client, is at fault: a 500 the host's error log explains.
      engine.logger.error({ provider: config.name, requestId: ex.record.id }, `aibridge: ${err.message}`)
      return rejected(ex, 500, 'internal', err.message)
    }
    if (err instanceof ClientGoneError) return gone(ex)
    if (err instanceof BodyStreamError) {
      // A host stream fails too when the client leaves mid-upload; otherwise the input was bad
      // (a corrupt gzip body behind a decompressing hook, say).
      if (ex.clientGone || (req.destroyed && !req.complete)) return gone(ex)
      engine.logger.warn({ provider: config.name, code: err.code, requestId: ex.record.id }, 'aibridge: the request body could not be read')
      return rejected(ex, 400, 'invalid_request', err.message, true)
    }
    throw err
  }

  const method = ex.record.method
  if (config.includeStreamUsage && method === 'POST' && CHAT_PATH.test(target.rest)) body = withIncludeUsage(body) ?? body
  // A credential in the query (Gemini's `key=`) goes only with the client's own request.
  const below = byok ? target : { rest: target.rest, search: config.dialect.stripCredential(target.search) }
  return await runFailover(engine, ex, {
    method,
    path: upstreamPath(config.basePath, below),
    below,
    headers: upstreamRequestHeaders(req.headers, !byok, fromHost),
    body: body.length === 0 && NO_BODY_METHODS.has(method) ? undefined : body,
    byok,
  })
}
