/** Scripted faults: a queue per key, and the error answers of the faults that replace a response. */
import type { ErrorContext, JsonAnswer, Problem, Provider } from './answer.js'
import { retryHeaders } from './rate-limit-headers.js'
import type { Fault, StreamErrorKind } from './types.js'

/** Faults that answer in place of the route. The others shape how the route's answer is delivered. */
export type ErrorFault = Extract<Fault, { kind: 'rate_limit' | 'unauthorized' | 'forbidden' | 'server_error' | 'quota' }>
export type DeliveryFault = Exclude<Fault, ErrorFault>

const DELIVERY_KINDS: ReadonlySet<string> = new Set(['slow_first_byte', 'die_mid_stream', 'stall', 'stream_error'])

export function isErrorFault(fault: Fault): fault is ErrorFault {
  return !DELIVERY_KINDS.has(fault.kind)
}

const RETRY_STYLES = ['retry-after', 'retry-after-ms', 'retry-after-both', 'retry-after-date', 'anthropic-reset', 'openai-reset', 'retry-info', 'none']
const STREAM_ERRORS: readonly StreamErrorKind[] = ['rate_limit', 'quota', 'unauthorized', 'forbidden', 'overloaded', 'server_error']

function check(ok: boolean, message: string): void {
  if (!ok) throw new TypeError(`@aibridge/simulator: ${message}`)
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v))
const oneOf = (list: readonly string[]): string => list.join(', ')

function checkWait(kind: string, fault: { retry?: unknown; seconds?: unknown }): void {
  check(fault.retry === undefined || RETRY_STYLES.includes(fault.retry as string), `${kind}.retry must be one of ${oneOf(RETRY_STYLES)}, got ${show(fault.retry)}`)
  check(fault.seconds === undefined || (Number.isFinite(fault.seconds) && (fault.seconds as number) >= 0), `${kind}.seconds must be a number >= 0, got ${show(fault.seconds)}`)
}

/** Validates a fault when it is scripted, so a typo fails the test that made it, not a later request. */
export function validateFault(key: unknown, fault: Fault, times: unknown): void {
  check(typeof key === 'string' && key !== '', 'fault(key): key must be a non-empty string')
  check(typeof fault === 'object' && fault !== null, 'fault(key, fault): fault must be an object')
  check(times === undefined || (isCount(times) && (times as number) > 0), `fault options.times must be a positive integer, got ${show(times)}`)
  switch (fault.kind) {
    case 'rate_limit':
      return checkWait('rate_limit', fault)
    case 'quota':
      check(fault.seconds === undefined || (Number.isFinite(fault.seconds) && fault.seconds >= 0), `quota.seconds must be a number >= 0, got ${show(fault.seconds)}`)
      return
    case 'server_error':
      check(fault.status === undefined || (Number.isInteger(fault.status) && fault.status >= 500 && fault.status <= 599), `server_error.status must be an integer from 500 to 599, got ${show(fault.status)}`)
      return
    case 'slow_first_byte':
      check(Number.isFinite(fault.ms) && fault.ms >= 0, `slow_first_byte.ms must be a number >= 0, got ${show(fault.ms)}`)
      return
    case 'die_mid_stream':
    case 'stall':
      check(fault.afterEvents === undefined || isCount(fault.afterEvents), `${fault.kind}.afterEvents must be an integer >= 0, got ${show(fault.afterEvents)}`)
      return
    case 'stream_error':
      check(STREAM_ERRORS.includes(fault.error), `stream_error.error must be one of ${oneOf(STREAM_ERRORS)}, got ${show(fault.error)}`)
      check(fault.afterEvents === undefined || isCount(fault.afterEvents), `stream_error.afterEvents must be an integer >= 0, got ${show(fault.afterEvents)}`)
      check(
        fault.responsesEvent === undefined || fault.responsesEvent === 'error' || fault.responsesEvent === 'response.failed',
        `stream_error.responsesEvent must be 'error' or 'response.failed', got ${show(fault.responsesEvent)}`,
      )
      return checkWait('stream_error', fault)
    case 'unauthorized':
    case 'forbidden':
      return
    default:
      check(false, `unknown fault kind ${show((fault as { kind?: unknown }).kind)}`)
  }
}

interface Scripted {
  fault: Fault
  /** Requests it still applies to; Infinity until cleared. */
  left: number
}

/** Per key, faults in the order they were scripted; the head applies until its `times` run out. */
export class FaultQueue {
  readonly #byKey = new Map<string, Scripted[]>()

  add(key: string, fault: Fault, times = Number.POSITIVE_INFINITY): void {
    const queue = this.#byKey.get(key) ?? []
    queue.push({ fault: { ...fault }, left: times })
    this.#byKey.set(key, queue)
  }

  /** The fault for the next request with `key`, consuming one of its `times`. */
  take(key: string | null): Fault | undefined {
    if (key === null) return undefined
    const queue = this.#byKey.get(key)
    const head = queue?.[0]
    if (!queue || !head) return undefined
    head.left -= 1
    if (head.left <= 0) queue.shift()
    if (queue.length === 0) this.#byKey.delete(key)
    return head.fault
  }

  clear(key?: string): void {
    if (key === undefined) this.#byKey.clear()
    else this.#byKey.delete(key)
  }
}

const DEFAULT_SECONDS = 2

type StreamErrorFault = Extract<Fault, { kind: 'stream_error' }>

/** The problem a fault (or the error of a `stream_error` fault) stands for. */
export function faultProblem(provider: Provider, fault: ErrorFault | StreamErrorFault): Problem {
  const error = fault.kind === 'stream_error' ? fault.error : fault.kind
  const seconds = fault.kind === 'rate_limit' || fault.kind === 'quota' || fault.kind === 'stream_error' ? (fault.seconds ?? DEFAULT_SECONDS) : DEFAULT_SECONDS
  switch (error) {
    case 'rate_limit': {
      // A stream error states its wait only when asked to (`retry`); a 429 in the provider's default style.
      const style = fault.kind === 'rate_limit' ? (fault.retry ?? provider.defaultRetry) : fault.kind === 'stream_error' ? fault.retry : undefined
      return { kind: 'rate_limit', seconds: style === 'none' ? null : seconds }
    }
    case 'quota':
      return { kind: 'quota', seconds }
    case 'unauthorized':
      return { kind: 'invalid_key' }
    case 'forbidden':
      return { kind: 'forbidden' }
    case 'overloaded':
      return { kind: 'overloaded' }
    case 'server_error':
      return { kind: 'server_error', status: fault.kind === 'server_error' ? (fault.status ?? 500) : 500 }
  }
}

/** The provider's own error for a fault, with its wait header for a rate limit. */
export function faultAnswer(provider: Provider, fault: ErrorFault, ctx: ErrorContext): JsonAnswer {
  const base = provider.error(faultProblem(provider, fault), ctx)
  const extra = fault.kind === 'rate_limit' ? retryHeaders(fault.retry ?? provider.defaultRetry, fault.seconds ?? DEFAULT_SECONDS) : {}
  return { ...base, headers: { ...base.headers, ...extra } }
}

/** The wait headers a `stream_error` fault adds to its `200` (none unless it names a style). */
export function streamErrorHeaders(fault: StreamErrorFault): Record<string, string> {
  return fault.retry === undefined ? {} : retryHeaders(fault.retry, fault.seconds ?? DEFAULT_SECONDS)
}

/** A `stream_error` fault met by a request that is not streamed: the same error, as a status. */
export function streamErrorAsStatus(provider: Provider, fault: StreamErrorFault, ctx: ErrorContext): JsonAnswer {
  const base = provider.error(faultProblem(provider, fault), ctx)
  return { ...base, headers: { ...base.headers, ...streamErrorHeaders(fault) } }
}
