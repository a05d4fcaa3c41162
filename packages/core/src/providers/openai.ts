import { alwaysFalse, errorMessageOf, keepSearch, noCooldown, present, type ErrorKind, type ProviderDialect } from './types.js'

const SHAPES: Record<ErrorKind, { type: string; code: string }> = {
  invalid_request: { type: 'invalid_request_error', code: 'invalid_request' },
  authentication: { type: 'invalid_request_error', code: 'invalid_api_key' },
  not_found: { type: 'invalid_request_error', code: 'not_found' },
  too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { type: 'server_error', code: 'bad_gateway' },
  internal: { type: 'server_error', code: 'internal_error' },
  timeout: { type: 'server_error', code: 'timeout' },
  unavailable: { type: 'server_error', code: 'service_unavailable' },
}

function body(kind: ErrorKind, message: string, code?: string): unknown {
  const shape = SHAPES[kind]
  return { error: { message, type: shape.type, param: null, code: code ?? shape.code } }
}

// 401 `mismatched_organization`, `mismatched_project`, `invalid_organization`...; 403
// `unsupported_country_region_territory`. `invalid_api_key` and friends stay the key's fault.
// Exact codes: `no_organization` (the key's account left its org) is the key's fault.
const REQUEST_FAULT_CODES = new Set(['mismatched_organization', 'mismatched_project', 'invalid_organization', 'invalid_project', 'unsupported_country_region_territory'])
// The SDKs send OpenAI-Organization / OpenAI-Project from OPENAI_ORG_ID / OPENAI_PROJECT_ID.
const REQUEST_FAULT_MESSAGE = /openai-(organization|project)/i

// The codes a stream's first event may carry that are the key's fault, as the statuses they come with.
const STREAM_ERROR_STATUS: Record<string, number> = {
  rate_limit_exceeded: 429,
  insufficient_quota: 429,
  billing_hard_limit_reached: 429,
  invalid_api_key: 401,
  // A restricted key missing a scope: its 403 fails over, so the same error as a first event does too.
  insufficient_permissions: 403,
}

const RESPONSES_PATH = /\/responses\/?$/
const SEQUENCE = /"sequence_number"\s*:\s*(\d+)/g

/** The highest `sequence_number` in the last event's bytes. */
function lastSequence(bytes: Buffer): number | undefined {
  const tail = bytes.toString('utf8', Math.max(0, bytes.length - 4096))
  let last: number | undefined
  for (const m of tail.matchAll(SEQUENCE)) last = Number(m[1])
  return last
}

const QUOTA_CODES = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'billing_not_active'])

/** OpenAI and compatible APIs: `Authorization: Bearer`, errors as `{error:{message,type,param,code}}`. */
export const openai: ProviderDialect = {
  type: 'openai',
  defaultBaseURL: 'https://api.openai.com',
  requestIdHeaders: ['x-request-id', 'request-id'],
  hasCredential: (h) => present(h.authorization, true),
  stripCredential: keepSearch,
  injectKey(headers, key) {
    headers.authorization = `Bearer ${key}`
  },
  errorBody: (kind, message, detail) => body(kind, message, detail?.code),
  sseErrorEvent(message, path, lastEvent) {
    if (RESPONSES_PATH.test(path)) {
      // The Responses API's own error event, numbered after the last event the client got: flat as
      // documented (`code`, `message`, `param`), and the same error nested under `error`, the other form
      // the API sends (the Vercel AI SDK validates either). The openai SDK raises only on `data.error`:
      // without it `stream: true` yields the event as data, and `responses.stream()` cut before its
      // first event fails with its own "expected 'response.created'" instead of this message.
      const last = lastEvent && lastSequence(lastEvent)
      const { error } = body('api_error', message, 'stream_interrupted') as { error: unknown }
      const event = { type: 'error', code: 'stream_interrupted', message, param: null, sequence_number: last === undefined ? 0 : last + 1, error }
      return `event: error\ndata: ${JSON.stringify(event)}\n\n`
    }
    // Chat Completions: a final chunk whose data carries `error` (the SDKs throw on it).
    return `data: ${JSON.stringify(body('api_error', message, 'stream_interrupted'))}\n\n`
  },
  streamStartError(event, data) {
    if (typeof data !== 'object' || data === null) return undefined
    const d = data as Record<string, unknown>
    // Chat Completions (and OpenAI-compatible APIs): `data: {"error": {...}}`.
    let err = d.error
    // Responses: `{"type":"error","code",...}` or `{"type":"response.failed","response":{"error":{...}}}`.
    if (d.type === 'error' || event === 'error') err = d.error ?? d
    else if (d.type === 'response.failed') err = (d.response as { error?: unknown } | undefined)?.error
    const found = typeof err === 'object' && err !== null ? (err as Record<string, unknown>) : undefined
    if (!found) return undefined
    const code = typeof found.code === 'string' ? found.code : typeof found.type === 'string' ? found.type : ''
    // Azure names the status itself (`"code": "429"`).
    const status = STREAM_ERROR_STATUS[code] ?? (/^[45]\d\d$/.test(code) ? Number(code) : undefined)
    return status === undefined ? undefined : { status, body: { error: found } }
  },
  isQuotaExhausted(status, b) {
    if (status === 402) return true
    const { type, code } = errorMessageOf(b)
    return status === 429 && (QUOTA_CODES.has(code ?? '') || QUOTA_CODES.has(type ?? ''))
  },
  isRequestFault(status, b) {
    if (status !== 401 && status !== 403) return false
    const { code, type, message } = errorMessageOf(b)
    return REQUEST_FAULT_CODES.has(code ?? '') || REQUEST_FAULT_CODES.has(type ?? '') || REQUEST_FAULT_MESSAGE.test(message ?? '')
  },
  isKeyRejected: alwaysFalse,
  cooldownFromBody: noCooldown,
  needsBody: (status) => status === 401 || status === 403 || status === 429,
}
