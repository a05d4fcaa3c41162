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
