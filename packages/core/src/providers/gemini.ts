import { nextPacificMidnight } from './pacific-time.js'
import { present, type ErrorDetail, type ErrorKind, type ProviderDialect } from './types.js'

/**
 * Google's canonical codes (google.rpc.Code) and the HTTP status each goes out with when the caller
 * names none. https://cloud.google.com/apis/design/errors#handling_errors
 */
const CODES: Record<ErrorKind, { status: string; http: number }> = {
  invalid_request: { status: 'INVALID_ARGUMENT', http: 400 },
  authentication: { status: 'UNAUTHENTICATED', http: 401 },
  not_found: { status: 'NOT_FOUND', http: 404 },
  // Google answers an oversized request with 400 INVALID_ARGUMENT; aibridge's own answer is a 413.
  too_large: { status: 'INVALID_ARGUMENT', http: 413 },
  rate_limit: { status: 'RESOURCE_EXHAUSTED', http: 429 },
  api_error: { status: 'UNAVAILABLE', http: 502 },
  internal: { status: 'INTERNAL', http: 500 },
  timeout: { status: 'DEADLINE_EXCEEDED', http: 504 },
  unavailable: { status: 'UNAVAILABLE', http: 503 },
}

const TYPE_PREFIX = 'type.googleapis.com/google.rpc.'

/** `{"error":{"code":429,"message":...,"status":"RESOURCE_EXHAUSTED","details":[RetryInfo]}}`, as Google's APIs answer. */
function body(kind: ErrorKind, message: string, detail?: ErrorDetail): unknown {
  const { status, http } = CODES[kind]
  const error: Record<string, unknown> = { code: detail?.status ?? http, message, status }
  if (detail?.retryAfterSeconds !== undefined) {
    error.details = [{ '@type': `${TYPE_PREFIX}RetryInfo`, retryDelay: `${detail.retryAfterSeconds}s` }]
  }
  return { error }
}

interface GoogleError {
  code?: number
  message?: string
  details: Record<string, unknown>[]
}

function googleError(b: unknown): GoogleError | undefined {
  if (typeof b !== 'object' || b === null) return undefined
  // Some Google front ends wrap the error in a one-element array (seen on streaming endpoints).
  const root = Array.isArray(b) ? (b[0] as unknown) : b
  const err = typeof root === 'object' && root !== null ? (root as { error?: unknown }).error : undefined
  if (typeof err !== 'object' || err === null) return undefined
  const e = err as Record<string, unknown>
  const details = Array.isArray(e.details) ? e.details.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null) : []
  return { code: typeof e.code === 'number' ? e.code : undefined, message: typeof e.message === 'string' ? e.message : undefined, details }
}

/** The details of one google.rpc type (`RetryInfo`, `QuotaFailure`, `ErrorInfo`). */
function detailsOf(e: GoogleError | undefined, type: string): Record<string, unknown>[] {
  return e ? e.details.filter((d) => d['@type'] === TYPE_PREFIX + type) : []
}

// google.protobuf.Duration in JSON: seconds with up to 9 fractional digits and an `s`.
const DURATION = /^\s*(\d+)(?:\.(\d{1,9}))?s\s*$/

/** A protobuf Duration (`"37s"`, `"1.5s"`; or `{seconds, nanos}`) in milliseconds. */
export function parseProtoDuration(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const m = DURATION.exec(value)
    if (!m) return undefined
    return Number(m[1]) * 1000 + Number(`0.${m[2] ?? '0'}`) * 1000
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown }
    if (seconds === undefined && nanos === undefined) return undefined
    const s = Number(seconds ?? 0)
    const n = Number(nanos ?? 0)
    if (!Number.isFinite(s) || !Number.isFinite(n) || s < 0 || n < 0) return undefined
    return s * 1000 + n / 1e6
  }
  return undefined
}

function retryDelayOf(e: GoogleError | undefined): number | undefined {
  for (const d of detailsOf(e, 'RetryInfo')) {
    const ms = parseProtoDuration(d.retryDelay)
    if (ms !== undefined) return ms
  }
  return undefined
}

// `GenerateRequestsPerDayPerProjectPerModel-FreeTier`; a metric spelled in snake case would say `per_day`.
const PER_DAY = /per_?day/i

/** A QuotaFailure naming a per-day quota: it resets at midnight Pacific time, not in `retryDelay`. */
function dailyQuotaExhausted(e: GoogleError | undefined): boolean {
  for (const d of detailsOf(e, 'QuotaFailure')) {
    const violations = Array.isArray(d.violations) ? (d.violations as unknown[]) : []
    for (const v of violations) {
      if (typeof v !== 'object' || v === null) continue
      const { quotaId, quotaMetric } = v as { quotaId?: unknown; quotaMetric?: unknown }
      if ((typeof quotaId === 'string' && PER_DAY.test(quotaId)) || (typeof quotaMetric === 'string' && PER_DAY.test(quotaMetric))) return true
    }
  }
  return false
}

const KEY_REJECTED = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED'])

function splitPair(pair: string): [name: string, value: string] {
  const eq = pair.indexOf('=')
  return eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)]
}

/** The `key` parameter, however its name is percent-encoded (`%6Bey`): Google decodes it. */
function isKeyParam(pair: string): boolean {
  try {
    return decodeURIComponent(splitPair(pair)[0]) === 'key'
  } catch {
    return false
  }
}

/** The raw value of the first `key` parameter, or undefined when there is none. */
export function keyParam(search: string): string | undefined {
  const pair = search.slice(1).split('&').find(isKeyParam)
  return pair === undefined ? undefined : splitPair(pair)[1]
}

/**
 * Gemini API (generativelanguage.googleapis.com): `x-goog-api-key` or `?key=`, errors as
 * `{error:{code,message,status,details}}` with google.rpc details (RetryInfo, QuotaFailure, ErrorInfo).
 */
export const gemini: ProviderDialect = {
  type: 'gemini',
  defaultBaseURL: 'https://generativelanguage.googleapis.com',
  // The Gemini API sends no request id header today; Google front ends that do name it this way.
  requestIdHeaders: ['x-goog-request-id', 'x-request-id'],
  hasCredential: (h, search) => present(h['x-goog-api-key']) || (keyParam(search) ?? '') !== '',
  stripCredential(search) {
    if (keyParam(search) === undefined) return search
    const kept = search.slice(1).split('&').filter((pair) => !isKeyParam(pair))
    return kept.length === 0 ? '' : `?${kept.join('&')}`
  },
  injectKey(headers, key) {
    headers['x-goog-api-key'] = key
  },
  errorBody: body,
  // Google ends a stream that fails mid-way with a bare `{"error":{code,message,status}}`, no `data:`
  // (googleapis/js-genai#461, #650), and @google/genai since the fix for #461 raises an ApiError for a
  // read that parses whole as one; a `data:` event carrying it is raised by recent versions only (3.3
  // does, 2.28 did not). No blank line follows: a read that merges it with earlier bytes still fails
  // (the SDK's "Incomplete JSON segment at the end") instead of being skipped as a non-data event.
  sseErrorEvent: (message) => JSON.stringify(body('api_error', message)),
  // A stream that starts with `data: {"error":{code,...}}`: the code is the HTTP status it stands for.
  streamStartError(_event, data) {
    const e = googleError(data)
    return typeof e?.code === 'number' && e.code >= 400 && e.code <= 599 ? { status: e.code, body: data } : undefined
  },
  isQuotaExhausted: (status, b) => status === 429 && dailyQuotaExhausted(googleError(b)),
  isRequestFault(status, b) {
    // A file, cached content or tuned model made with another project's key: every other key of the
    // pool may be refused alike, and the key that got it is fine.
    return status === 403 && /or it may not exist/i.test(googleError(b)?.message ?? '')
  },
  isKeyRejected(status, b) {
    if (status !== 400) return false
    return detailsOf(googleError(b), 'ErrorInfo').some((d) => typeof d.reason === 'string' && KEY_REJECTED.has(d.reason))
  },
  cooldownFromBody(status, b, now) {
    if (status !== 429) return undefined
    const e = googleError(b)
    if (dailyQuotaExhausted(e)) return nextPacificMidnight(now) - now
    return retryDelayOf(e)
  },
  needsBody: (status) => status === 400 || status === 403 || status === 429,
}
