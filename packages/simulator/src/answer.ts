import type { IncomingHttpHeaders } from 'node:http'
import type { Headers } from './rate-limit-headers.js'

/** What a route decided to send, before any delivery fault shapes how it is sent. */
export type Answer =
  | { type: 'json'; status: number; headers: Headers; body: unknown }
  | { type: 'sse'; headers: Headers; events: string[] }

/** Why a request is refused; each provider turns it into its own error body. */
export type Problem =
  | { kind: 'missing_key' }
  | { kind: 'invalid_key' }
  | { kind: 'forbidden' }
  | { kind: 'not_found'; method: string; path: string }
  | { kind: 'invalid_request'; message: string }
  | { kind: 'rate_limit' }
  | { kind: 'quota' }
  | { kind: 'server_error'; status: number }

export type JsonObject = Record<string, unknown>

/** What a route handler knows about the request it answers. */
export interface RouteContext {
  /** `req_sim_<n>` */
  requestId: string
  /** The request number, for ids such as `msg_sim_<n>`. */
  n: number
  /** The part of the path after the route's fixed part, e.g. the model id of `/v1/models/{id}`. */
  param: string
  query: URLSearchParams
  /** The parsed JSON body of a POST; `{}` for other methods. */
  body: JsonObject
  /** How many requests this credential has made so far, this one included. */
  used: number
}

export type Handler = (ctx: RouteContext) => Answer

export interface Provider {
  name: 'anthropic' | 'openai'
  /** The header that carries `req_sim_<n>`. */
  requestIdHeader: string
  credential(headers: IncomingHttpHeaders): string | null
  /** The handler of a method and path, and whether it takes a JSON body. */
  route(method: string, path: string): { handler: Handler; param: string; jsonBody: boolean } | undefined
  error(problem: Problem, requestId: string): Answer & { type: 'json' }
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

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}
