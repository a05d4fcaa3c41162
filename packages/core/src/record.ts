/** How a handled request ended. */
export type Outcome =
  /** The upstream answer (status < 400) reached the client whole. */
  | 'ok'
  /** The upstream answered 4xx/5xx and that answer reached the client whole. */
  | 'upstream_error'
  /** No usable key was left; the client got 429 or 502 from aibridge. */
  | 'exhausted'
  /** The upstream could not be reached or reset before its headers; 502. */
  | 'transport_error'
  /** The upstream sent no headers in time; 504. */
  | 'timeout'
  /** The client went away before the response ended; the upstream request was aborted. */
  | 'client_aborted'
  /** The upstream died or stalled mid-body; the client saw an error, not a clean end. */
  | 'truncated'
  /** aibridge itself failed (a `byok` function threw or returned a promise, a bug); 500, details in the error log. */
  | 'internal_error'
  /**
   * aibridge refused the request itself (hostile path, body too large, missing credential, a body a
   * host parser consumed, shutting down); no upstream call.
   */
  | 'rejected'

/** Tokens the provider reported for a request; a count the provider did not give is null. */
export interface TokenUsage {
  inputTokens: number | null
  outputTokens: number | null
  cacheReadTokens: number | null
  cacheWriteTokens: number | null
}

/** One handled request, as `onInterception` receives it. Holds no key, token or body. */
export interface InterceptionRecord {
  id: string
  provider: string
  method: string
  /** The path after the provider segment, without the query string (which may hold secrets). */
  path: string
  credentialKind: 'centralized' | 'byok'
  /** The `id` of the principal the `authenticate` option returned for the request's token; null without `authenticate` (and for `bridge.fetch`). */
  principal: string | null
  /** Hint of the key that served the request, or of the last key tried; null for BYOK or when no key was tried. */
  credentialHint: string | null
  /** Hints of the pool keys tried, in order. */
  keysTried: string[]
  /** Upstream requests made. */
  attempts: number
  /** Status sent to the client; null when the client left before any. */
  status: number | null
  outcome: Outcome
  upstreamRequestId: string | null
  /** Epoch ms when aibridge got the request. */
  startedAt: number
  durationMs: number
  /** Ms from start until the first response body byte was sent to the client (an upstream chunk, or aibridge's own answer); null when none was. */
  firstByteMs: number | null
  /** The model the provider says served the request (from its response); null when it did not say. */
  model: string | null
  /** Token usage from the provider's own response; null when it did not say. */
  usage: TokenUsage | null
}

/** A record to hand out: the exchange may still be settling (a client that left mid-request) when it goes out. */
export function copyRecord(record: InterceptionRecord): InterceptionRecord {
  return { ...record, keysTried: [...record.keysTried], usage: record.usage && { ...record.usage } }
}
