import type { IncomingHttpHeaders } from 'node:http'
import type { Headers } from './rate-limit-headers.js'
import type { ProviderName, RetryStyle } from './types.js'

export type JsonAnswer = { type: 'json'; status: number; headers: Headers; body: unknown }

/**
 * A streamed answer: `events` are written one at a time (SSE events, or the pieces of Gemini's
 * JSON-array stream). `errorEvent(problem, index, options)` is the API's own in-stream error, as
 * it would arrive in place of `events[index]`; `responsesEvent` picks the OpenAI Responses form.
 */
export type StreamAnswer = {
  type: 'sse'
  headers: Headers
  events: string[]
  /** @default 'text/event-stream; charset=utf-8' */
  contentType?: string
  errorEvent(problem: Problem, index: number, options: { responsesEvent: 'error' | 'response.failed' }): string
}

/** What a route decided to send, before any delivery fault shapes how it is sent. */
export type Answer = JsonAnswer | StreamAnswer

/** Why a request is refused; each provider turns it into its own error body. */
export type Problem =
  | { kind: 'missing_key' }
  | { kind: 'invalid_key' }
  | { kind: 'forbidden' }
  | { kind: 'not_found'; method: string; path: string }
  | { kind: 'invalid_request'; message: string }
  /** `seconds` is the wait the error itself states (Gemini's `RetryInfo`, Azure's message); `null`: none. */
  | { kind: 'rate_limit'; seconds: number | null }
  | { kind: 'quota'; seconds: number }
  | { kind: 'overloaded' }
  | { kind: 'server_error'; status: number }

export type JsonObject = Record<string, unknown>

/** What a route handler knows about the request it answers. */
export interface RouteContext {
  /** `req_sim_<n>` */
  requestId: string
  /** The request number, for ids such as `msg_sim_<n>`. */
  n: number
  /** The variable part of the route's path: a model id, a Gemini model, an Azure deployment. */
  param: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  /** The parsed JSON body of a POST; `{}` for other methods. */
  body: JsonObject
  /** How many requests this credential has made so far, this one included. */
  used: number
  /** The answering provider's error for a problem (in-stream errors carry its body). */
  error(problem: Problem): JsonAnswer
}

export type Handler = (ctx: RouteContext) => Answer

/** What an error body may say beyond its kind: the route's model or deployment, the path below the prefix, the query. */
export interface ErrorContext {
  requestId: string
  param: string
  path: string
  query: URLSearchParams
}

export interface Route {
  handler: Handler
  param: string
  /** Whether the route takes a JSON body (a POST). */
  jsonBody: boolean
  /** A check of the request's headers and query before its body is read, e.g. a required version. */
  check?(headers: IncomingHttpHeaders, query: URLSearchParams): Problem | undefined
}

export interface Provider {
  name: ProviderName
  /** The headers that carry `req_sim_<n>` on every answer. */
  requestIdHeaders: readonly string[]
  /** The wait header of a scripted 429 when the fault names none. */
  defaultRetry: RetryStyle
  credential(headers: IncomingHttpHeaders, query: URLSearchParams): string | null
  /** The route of a method and path (below the provider prefix), if there is one. */
  route(method: string, path: string): Route | undefined
  error(problem: Problem, ctx: ErrorContext): JsonAnswer
}

/** One Server-Sent Event; `event: null` writes a data-only event, as Chat Completions does. */
export function sseEvent(event: string | null, data: unknown): string {
  const payload = typeof data === 'string' ? data : JSON.stringify(data)
  return `${event === null ? '' : `event: ${event}\n`}data: ${payload}\n\n`
}

export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const auth = headers.authorization
  const m = typeof auth === 'string' ? /^Bearer\s+(\S.*)$/i.exec(auth) : null
  return m ? m[1]!.trim() : null
}

/** A single-valued header, trimmed; null when absent, empty or repeated. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name]
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v)
