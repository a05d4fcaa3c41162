import type { IncomingHttpHeaders } from 'node:http'

/** What went wrong, in words every provider has its own name for. */
export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'not_found'
  | 'too_large'
  | 'rate_limit'
  | 'api_error'
  | 'internal'
  | 'timeout'
  | 'unavailable'

export type ProviderType = 'anthropic' | 'openai' | 'gemini' | 'azure'

/** What an error answer carries besides its kind and message. */
export interface ErrorDetail {
  /** The HTTP status it goes out with (Google's bodies repeat it as `code`). */
  status?: number
  /** A provider error code in place of the kind's own (OpenAI's `code`). */
  code?: string
  /** How long the client should wait, for a body that says so itself (Google's `RetryInfo`). */
  retryAfterSeconds?: number
}

/** The parts of an upstream API that aibridge must speak: credentials, errors and quota signals. */
export interface ProviderDialect {
  readonly type: ProviderType
  /** Undefined for a provider with no shared endpoint (Azure: one per resource): `baseURL` is then required. */
  readonly defaultBaseURL: string | undefined
  /** Headers that name the upstream request, for records. */
  readonly requestIdHeaders: readonly string[]
  /**
   * True when the client brought its own credential, in a header or in the query string (`search`,
   * as received: '' or starting with '?').
   */
  hasCredential(headers: IncomingHttpHeaders, search: string): boolean
  /**
   * The query string of a centralized request without any credential the client put there (Gemini's
   * `key=`), so only the pool key reaches the provider. The rest is kept byte for byte.
   */
  stripCredential(search: string): string
  /** Puts a pool key where the provider expects it; called on the same headers for each attempt, so it overwrites. */
  injectKey(headers: Record<string, string>, key: string): void
  /** A JSON error body shaped like the provider's own, so official SDKs parse it. */
  errorBody(kind: ErrorKind, message: string, detail?: ErrorDetail): unknown
  /**
   * What ends a stream that died mid-way, in the API's own error form, so the official SDKs raise it.
   * `path` is the provider path (the API it names); `lastEvent` ends with the last event the client got
   * (a Responses stream's error carries the next `sequence_number`).
   */
  sseErrorEvent(message: string, path: string, lastEvent: Buffer | undefined): string
  /**
   * An error that arrived as a stream's first event, as the status and error body the provider would
   * have answered without streaming; undefined when the event is not an error. The engine judges it
   * like that answer: a key failure fails over before the client sees a byte.
   */
  streamStartError(event: string | undefined, data: unknown): { status: number; body: unknown } | undefined
  /** True when a response body says the key's billing or quota is exhausted. */
  isQuotaExhausted(status: number, body: unknown): boolean
  /**
   * True when an answer other than 401/403 says the key itself is invalid (Gemini answers a bad or
   * expired key with 400 `API_KEY_INVALID`/`API_KEY_EXPIRED`). The key is then out as after a 401.
   */
  isKeyRejected(status: number, body: unknown): boolean
  /**
   * The cooldown, in milliseconds, that an error body names for a rate-limited or exhausted key
   * (Gemini's `RetryInfo.retryDelay`; the time left until a daily quota resets). Read before the
   * headers; undefined when the body names none.
   */
  cooldownFromBody(status: number, body: unknown, now: number): number | undefined
  /**
   * True when a 401/403 body blames the request, not the key (an organization or project header that
   * does not match the key's, a region the provider does not serve). Such an answer goes to the client
   * as it is and marks nothing: every key would fail the same way, and one client must not take the
   * whole pool out.
   */
  isRequestFault(status: number, body: unknown): boolean
  /** Statuses whose body must be read to classify them (small, error bodies only). */
  needsBody(status: number): boolean
}

// For dialects with no credential in the query string, no key-rejecting status besides 401/403, no
// request-blaming 401/403, or no cooldown in their error bodies.
export const keepSearch = (search: string): string => search
export const alwaysFalse = (): false => false
export const noCooldown = (): undefined => undefined

/** A non-empty header value, or a non-empty token after an auth scheme (`Bearer ` alone is empty). */
export function present(value: string | string[] | undefined, scheme = false): boolean {
  if (value === undefined) return false
  const v = (Array.isArray(value) ? value.join(',') : value).trim()
  if (v === '') return false
  if (!scheme) return true
  const space = v.indexOf(' ')
  return space === -1 ? !/^(bearer|basic)$/i.test(v) : v.slice(space + 1).trim() !== ''
}

export function errorMessageOf(body: unknown): { type?: string; code?: string; message?: string } {
  if (typeof body !== 'object' || body === null) return {}
  const err = (body as { error?: unknown }).error
  if (typeof err !== 'object' || err === null) return {}
  const e = err as Record<string, unknown>
  return {
    type: typeof e.type === 'string' ? e.type : undefined,
    code: typeof e.code === 'string' ? e.code : undefined,
    message: typeof e.message === 'string' ? e.message : undefined,
  }
}
