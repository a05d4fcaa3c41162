import type { Exchange } from './exchange.js'
import type { Engine } from './failover.js'
import { describeError, silentLogger } from './logger.js'
import { copyRecord, type InterceptionRecord } from './record.js'

/**
 * The requests in flight, whatever front they came through, and where each one's record goes when it
 * ends: the request log line, the observers' `requestEnded`, then `onInterception`. `close()` waits
 * here for the last one before the upstream pools close.
 */
export class Ledger {
  #active = 0
  #idle: { promise: Promise<void>; resolve: () => void } | undefined

  constructor(
    private readonly engine: Engine,
    private readonly onInterception: ((record: InterceptionRecord) => void) | undefined,
  ) {}

  /** Counts an exchange as in flight until the returned function ends it (once): its record goes out, then close() may go on. */
  track(ex: Exchange): () => void {
    this.#active++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#emit(ex)
      if (--this.#active === 0 && this.#idle) {
        this.#idle.resolve()
        this.#idle = undefined
      }
    }
  }

  /** Resolves once no exchange is in flight. */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve()
    if (!this.#idle) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => (resolve = r))
      this.#idle = { promise, resolve }
    }
    return this.#idle.promise
  }

  #emit(ex: Exchange): void {
    // Usage still decoding (a compressed body): the record goes out when it is known.
    if (ex.settled) {
      const settled = ex.settled
      ex.settled = undefined
      void settled.then(() => this.#emit(ex))
      return
    }
    const record = ex.finish()
    if (!record) return
    const { observers, logger } = this.engine
    // One line per request: the record holds no key (hints only), no body and no query string.
    if (logger !== silentLogger) logger.info({ ...record }, 'aibridge: request')
    if (observers.active) observers.emit('requestEnded', record)
    if (!this.onInterception) return
    try {
      const result = this.onInterception(copyRecord(record)) as unknown
      if (result && typeof (result as Promise<unknown>).catch === 'function') {
        ;(result as Promise<unknown>).catch((err: unknown) => logger.error({ err: describeError(err) }, 'aibridge: onInterception threw'))
      }
    } catch (err) {
      logger.error({ err: describeError(err) }, 'aibridge: onInterception threw')
    }
  }
}
