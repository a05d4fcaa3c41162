import type { IncomingMessage } from 'node:http'
import { authenticateRequest } from './authenticate.js'
import { BodyStreamError, BodyTooLargeError, ClientGoneError, HostBodyError, requestBody } from './body.js'
import { usesOwnCredential } from './byok.js'
import type { Exchange } from './exchange.js'
import { gone, runFailover, type Engine, type Settled } from './failover.js'
import { upstreamRequestHeaders } from './headers.js'
import { hostilePath, upstreamPath, type Target } from './path.js'
import { errorResponse } from './respond.js'
import { withIncludeUsage } from './include-usage.js'

const NO_BODY_METHODS = new Set(['GET', 'HEAD'])
const CHAT_PATH = /\/chat\/completions\/?$/

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

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}
