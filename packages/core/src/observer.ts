import { AibridgeArgumentError } from './errors.js'
import type { KeyFailure } from './key-store.js'
import type { Logger } from './logger.js'
import { copyRecord, type InterceptionRecord } from './record.js'

/** This process took a key out of rotation after a key-specific failure. */
export interface KeyMarkedEvent {
  provider: string
  /** The key's id (a fingerprint; never key material). */
  keyId: string
  /** The key's masked hint (`sk-a...wxyz`). */
  hint: string
  reason: KeyFailure
  /** The key's state as it now stands (a longer mark from another request or process wins). */
  state: 'temporary' | 'permanent'
  /** Epoch ms when the key is usable again; null for a permanent key with no recheck. */
  until: number | null
  /** The HTTP status that took the key out. */
  status: number
  /** Epoch ms of the failure. */
  at: number
  /** The request that met the failure. */
  requestId: string
  /** The principal `authenticate` gave that request; null without `authenticate`. */
  principal: string | null
}

/** A key was put back into service with `resetKey`. */
export interface KeyResetEvent {
  provider: string
  keyId: string
  hint: string
  at: number
}

/**
 * A centralized request found no usable key. `rate_limited`: the client got a 429 (some key is only
 * cooling or out of quota); `unauthorized`: a 502, every key failed authentication.
 */
export interface PoolExhaustedEvent {
  provider: string
  kind: 'rate_limited' | 'unauthorized'
  /** The Retry-After the client was given, for `rate_limited`. */
  retryAfterSeconds: number | null
  requestId: string
  /** The principal `authenticate` gave the request; null without `authenticate`. */
  principal: string | null
  at: number
}

/**
 * What an exporter (Prometheus, OpenTelemetry, a status page, your own) learns from a bridge. Every
 * method is optional; each is called synchronously where the event happens, so it must be cheap and
 * must not block. A listener that throws is logged and never breaks a request.
 */
export interface BridgeObserver {
  /** A request ended: the same record `onInterception` gets (each listener its own copy). */
  requestEnded?(record: InterceptionRecord): void
  keyMarked?(event: KeyMarkedEvent): void
  keyReset?(event: KeyResetEvent): void
  poolExhausted?(event: PoolExhaustedEvent): void
}

type EventName = keyof BridgeObserver
type EventOf<N extends EventName> = Parameters<NonNullable<BridgeObserver[N]>>[0]

/** The bridge's listeners. `active` is false while nobody listens, so emitting costs one branch. */
export class Observers {
  #list: BridgeObserver[] = []
  readonly #logger: Logger

  constructor(logger: Logger) {
    this.#logger = logger
  }

  get active(): boolean {
    return this.#list.length > 0
  }

  add(observer: BridgeObserver): () => void {
    // Copy on write: an emit in progress keeps walking the list it started with.
    this.#list = [...this.#list, observer]
    return () => {
      this.#list = this.#list.filter((o) => o !== observer)
    }
  }

  emit<N extends EventName>(name: N, event: EventOf<N>): void {
    for (const observer of this.#list) {
      const listener = observer[name] as ((e: EventOf<N>) => unknown) | undefined
      if (!listener) continue
      try {
        // A record is the one mutable event: each listener gets its own, as onInterception does.
        const result = listener.call(observer, name === 'requestEnded' ? (copyRecord(event as InterceptionRecord) as EventOf<N>) : event)
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          ;(result as Promise<unknown>).then(undefined, (err: unknown) => this.#failed(name, err))
        }
      } catch (err) {
        this.#failed(name, err)
      }
    }
  }

  #failed(name: EventName, err: unknown): void {
    this.#logger.error({ event: name, err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, 'aibridge: an observer threw')
  }
}

/** Validates an observer when it is added, so a typo fails at setup, not silently. */
export function checkObserver(observer: unknown): asserts observer is BridgeObserver {
  const names: readonly EventName[] = ['requestEnded', 'keyMarked', 'keyReset', 'poolExhausted']
  if (typeof observer !== 'object' || observer === null) throw new AibridgeArgumentError('observe() takes an object with requestEnded, keyMarked, keyReset or poolExhausted methods')
  const given = Object.keys(observer)
  for (const name of names) {
    const fn = (observer as Record<string, unknown>)[name]
    if (fn !== undefined && typeof fn !== 'function') throw new AibridgeArgumentError(`observer.${name} must be a function`)
  }
  if (!names.some((n) => typeof (observer as Record<string, unknown>)[n] === 'function')) {
    throw new AibridgeArgumentError(`observe() got an object with none of ${names.join(', ')}${given.length ? ` (it has ${given.slice(0, 5).join(', ')})` : ''}`)
  }
}
