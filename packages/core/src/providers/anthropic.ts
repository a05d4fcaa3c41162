import { alwaysFalse, errorMessageOf, keepSearch, noCooldown, present, type ErrorKind, type ProviderDialect } from './types.js'

const TYPES: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  not_found: 'not_found_error',
  too_large: 'request_too_large',
  rate_limit: 'rate_limit_error',
  api_error: 'api_error',
  internal: 'api_error',
  timeout: 'timeout_error',
  unavailable: 'api_error',
}

// https://docs.anthropic.com/en/api/errors: the HTTP status of each error type.
const STREAM_ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  billing_error: 402,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null
}

function body(kind: ErrorKind, message: string): unknown {
  return { type: 'error', error: { type: TYPES[kind], message } }
}

/** Anthropic Messages API: `x-api-key` (or an OAuth bearer token), errors as `{type:'error',error:{type,message}}`. */
export const anthropic: ProviderDialect = {
  type: 'anthropic',
  defaultBaseURL: 'https://api.anthropic.com',
  requestIdHeaders: ['request-id', 'x-request-id'],
  hasCredential: (h) => present(h['x-api-key']) || present(h.authorization, true),
  stripCredential: keepSearch,
  injectKey(headers, key) {
    headers['x-api-key'] = key
  },
  errorBody: body,
  sseErrorEvent: (message) => `event: error\ndata: ${JSON.stringify(body('api_error', message))}\n\n`,
  // The Messages API's `event: error`: its error type names the status it stands for.
  streamStartError(_event, data) {
    if (!isObject(data) || data.type !== 'error') return undefined
    const status = STREAM_ERROR_STATUS[errorMessageOf(data).type ?? '']
    return status === undefined ? undefined : { status, body: data }
  },
  // Billing shows up as 402, or as a 400 "Your credit balance is too low" on the Messages API.
  isQuotaExhausted(status, b) {
    if (status === 402) return true
    const { message } = errorMessageOf(b)
    return (status === 400 || status === 429) && /credit balance/i.test(message ?? '')
  },
  // Anthropic's 401 is always the key (`authentication_error`), its 403 the key's permissions.
  isRequestFault: alwaysFalse,
  isKeyRejected: alwaysFalse,
  cooldownFromBody: noCooldown,
  needsBody: (status) => status === 400 || status === 429,
}
