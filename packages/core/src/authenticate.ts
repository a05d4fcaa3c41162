import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { Exchange } from './exchange.js'
import type { Engine } from './failover.js'
import { TOKEN_HEADER } from './headers.js'
import type { Target } from './path.js'
import { keyParam } from './providers/gemini.js'
import type { ProviderDialect } from './providers/index.js'
import { errorResponse, type BridgeResponse } from './respond.js'

/** Who a host token belongs to, as the `authenticate` option returns it: `id` goes into records and events. */
export interface Principal {
  id: string
  [field: string]: unknown
}

type Verdict = Principal | null | false | undefined

/**
 * The host's check of its own clients' tokens: the principal the token belongs to, or null (or false)
 * to refuse the request. May be async.
 */
export type Authenticate = (token: string, req: IncomingMessage) => Verdict | PromiseLike<Verdict>

/** An accepted request: `byokSignalled` when the token came in x-aibridge-token, so a provider credential beside it is the client's own. */
export interface Authenticated {
  byokSignalled: boolean
  response?: undefined
}

/** A request refused or failed by the check: aibridge's own answer, no upstream call. */
type Refused = { response: BridgeResponse }

const BEARER = /^\s*bearer\s+(\S+)\s*$/i

function value(v: string | string[] | undefined): string | undefined {
  const s = (Array.isArray(v) ? v[0] : v)?.trim()
  return s === '' ? undefined : s
}

/**
 * Where the host's token is: `x-aibridge-token` when the client sends it (its provider header, if
 * any, then holds its own provider key), else the credential where an SDK puts its API key
 * (`x-api-key`, `Authorization: Bearer`, Azure's `api-key`, Gemini's `x-goog-api-key`, or Gemini's
 * `key` query parameter, which a centralized request does not send upstream).
 */
export function hostToken(headers: IncomingHttpHeaders, search: string, dialect: ProviderDialect): { token: string | undefined; separate: boolean } {
  if (headers[TOKEN_HEADER] !== undefined) return { token: value(headers[TOKEN_HEADER]), separate: true }
  const auth = value(headers.authorization)
  const token =
    value(headers['x-api-key']) ??
    (auth === undefined ? undefined : BEARER.exec(auth)?.[1]) ??
    value(headers['api-key']) ??
    value(headers['x-goog-api-key']) ??
    (dialect.type === 'gemini' ? queryValue(keyParam(search)) : undefined)
  return { token, separate: false }
}

function queryValue(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined
  try {
    return value(decodeURIComponent(raw.replace(/\+/g, ' ')))
  } catch {
    return value(raw)
  }
}

function isPrincipal(v: unknown): v is Principal {
  return typeof v === 'object' && v !== null && typeof (v as Principal).id === 'string' && (v as Principal).id !== ''
}

/** An error's text with every occurrence of the token replaced: a host's error may quote the token it refused. */
function withoutToken(err: unknown, token: string): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return text.split(token).join('[token]')
}

/**
 * Runs the `authenticate` option for a request: the principal's id goes into the record; a missing or
 * refused token is a provider-shaped 401 and a function that throws (or rejects, or answers something
 * that is neither a principal nor null/false) a 500, both without an upstream call. The token is never
 * logged, recorded or echoed.
 */
export async function authenticateRequest(engine: Engine, ex: Exchange, req: IncomingMessage, target: Target, authenticate: Authenticate): Promise<Authenticated | Refused> {
  const { dialect, name } = ex.provider.config
  const { token, separate } = hostToken(req.headers, target.search, dialect)
  const refuse = (message: string): Refused => {
    ex.settle('rejected')
    engine.logger.info({ provider: name, requestId: ex.record.id }, `aibridge: request refused: ${message}`)
    return { response: errorResponse(dialect, 401, 'authentication', message) }
  }
  if (token === undefined) {
    return refuse(separate ? `the ${TOKEN_HEADER} header is empty` : "no token: send this gateway's token as the API key")
  }
  let verdict: unknown
  try {
    verdict = await authenticate(token, req)
  } catch (err) {
    return failed(engine, ex, `authenticate threw: ${withoutToken(err, token)}`)
  }
  if (verdict === null || verdict === false || verdict === undefined) return refuse('the token is not valid for this gateway')
  if (!isPrincipal(verdict)) return failed(engine, ex, 'authenticate must return a principal ({ id: string }), or null or false to refuse')
  ex.record.principal = verdict.id
  return { byokSignalled: separate }
}

function failed(engine: Engine, ex: Exchange, detail: string): Refused {
  ex.settle('internal_error')
  engine.logger.error({ provider: ex.provider.config.name, requestId: ex.record.id, err: detail }, 'aibridge: authenticate failed')
  return { response: errorResponse(ex.provider.config.dialect, 500, 'internal', 'internal error in the gateway') }
}
