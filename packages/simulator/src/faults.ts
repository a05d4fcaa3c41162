/** Scripted faults: a queue per key, and the error answers of the faults that replace a response. */
import type { Answer, Provider } from './answer.js'
import { retryHeaders } from './rate-limit-headers.js'
import type { Fault } from './types.js'

/** Faults that answer in place of the route. The others shape how the route's answer is delivered. */
export type ErrorFault = Extract<Fault, { kind: 'rate_limit' | 'unauthorized' | 'forbidden' | 'server_error' | 'quota' }>
export type DeliveryFault = Exclude<Fault, ErrorFault>

export function isErrorFault(fault: Fault): fault is ErrorFault {
  return fault.kind !== 'slow_first_byte' && fault.kind !== 'die_mid_stream' && fault.kind !== 'stall'
}

const RETRY_STYLES = ['retry-after', 'retry-after-ms', 'retry-after-date', 'anthropic-reset', 'openai-reset', 'none']

function check(ok: boolean, message: string): void {
  if (!ok) throw new TypeError(`@aibridge/simulator: ${message}`)
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v))

/** Validates a fault when it is scripted, so a typo fails the test that made it, not a later request. */
export function validateFault(key: unknown, fault: Fault, times: unknown): void {
  check(typeof key === 'string' && key !== '', 'fault(key): key must be a non-empty string')
  check(typeof fault === 'object' && fault !== null, 'fault(key, fault): fault must be an object')
  check(times === undefined || (isCount(times) && (times as number) > 0), `fault options.times must be a positive integer, got ${show(times)}`)
  switch (fault.kind) {
    case 'rate_limit':
      check(fault.retry === undefined || RETRY_STYLES.includes(fault.retry), `rate_limit.retry must be one of ${RETRY_STYLES.join(', ')}, got ${show(fault.retry)}`)
      check(fault.seconds === undefined || (Number.isFinite(fault.seconds) && fault.seconds >= 0), `rate_limit.seconds must be a number >= 0, got ${show(fault.seconds)}`)
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
    case 'unauthorized':
    case 'forbidden':
    case 'quota':
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

/** The provider's own error for a fault, with its wait header for a rate limit. */
export function faultAnswer(provider: Provider, fault: ErrorFault, requestId: string): Answer {
  const base = (() => {
    switch (fault.kind) {
      case 'rate_limit':
        return provider.error({ kind: 'rate_limit' }, requestId)
      case 'unauthorized':
        return provider.error({ kind: 'invalid_key' }, requestId)
      case 'forbidden':
        return provider.error({ kind: 'forbidden' }, requestId)
      case 'quota':
        return provider.error({ kind: 'quota' }, requestId)
      case 'server_error':
        return provider.error({ kind: 'server_error', status: fault.status ?? 500 }, requestId)
    }
  })()
  const extra = fault.kind === 'rate_limit' ? retryHeaders(fault.retry ?? 'retry-after', fault.seconds ?? 2) : {}
  return { ...base, headers: { ...base.headers, ...extra } }
}
