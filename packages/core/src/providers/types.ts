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

export type ProviderType = 'anthropic' | 'openai'

/** The parts of an upstream API that aibridge must speak: credentials, errors and quota signals. */
export interface ProviderDialect {
  readonly type: ProviderType
  readonly defaultBaseURL: string
  /** Headers that name the upstream request, for records. */
  readonly requestIdHeaders: readonly string[]
  /** True when the client brought its own credential. */
  hasCredential(headers: IncomingHttpHeaders): boolean
  /** Puts a pool key where the provider expects it; called on the same headers for each attempt, so it overwrites. */
  injectKey(headers: Record<string, string>, key: string): void
  /** A JSON error body shaped like the provider's own, so official SDKs parse it. */
  errorBody(kind: ErrorKind, message: string, code?: string): unknown
  /**
   * An SSE event in the API's own error form, so the official SDKs raise it, for a stream that died
   * mid-way. `path` is the provider path (the API it names); `lastEvent` ends with the last event the
   * client got (a Responses stream's error carries the next `sequence_number`).
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
   * True when a 401/403 body blames the request, not the key (an organization or project header that
   * does not match the key's, a region the provider does not serve). Such an answer goes to the client
   * as it is and marks nothing: every key would fail the same way, and one client must not take the
   * whole pool out.
   */
  isRequestFault(status: number, body: unknown): boolean
  /** Statuses whose body must be read to classify them (small, error bodies only). */
  needsBody(status: number): boolean
}

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
