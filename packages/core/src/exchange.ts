import { randomUUID } from 'node:crypto'
import type { Dispatcher } from 'undici'
import type { KeyPool } from './key-pool.js'
import type { ResolvedProvider } from './options.js'
import type { Target } from './path.js'
import type { InterceptionRecord, Outcome } from './record.js'
import type { UpstreamCall } from './upstream-call.js'
import type { UsageResult } from './usage.js'

/** A configured provider as the bridge serves it: its options, key pool and upstream dispatcher. */
export interface Provider {
  config: ResolvedProvider
  pool: KeyPool
  /** Sends upstream requests: the bridge's keep-alive pool, or the provider's `dispatcher` option. */
  dispatcher: Dispatcher
}

/** Per-request bookkeeping that ends up in the record, whatever front the request came through. */
export class Exchange {
  readonly record: InterceptionRecord
  /** The upstream request in progress, aborted when the client leaves. */
  call: UpstreamCall | undefined
  #gone = false
  #finished = false
  #explicit: Outcome | undefined
  #emitted = false

  constructor(
    readonly provider: Provider,
    method: string,
    target: Target,
  ) {
    this.record = {
      id: randomUUID(),
      provider: provider.config.name,
      method,
      path: target.rest || '/',
      credentialKind: 'centralized',
      principal: null,
      credentialHint: null,
      keysTried: [],
      attempts: 0,
      status: null,
      outcome: 'ok',
      upstreamRequestId: null,
      startedAt: Date.now(),
      durationMs: 0,
      firstByteMs: null,
      model: null,
      usage: null,
    }
  }

  get clientGone(): boolean {
    return this.#gone
  }

  /** The whole response was handed to the connection ('finish'). */
  get finished(): boolean {
    return this.#finished
  }

  markFinished(): void {
    this.#finished = true
  }

  /** The client closed the connection before the response ended: stop everything upstream. */
  leave(): void {
    this.#gone = true
    this.call?.abort()
  }

  /** An outcome fixed by aibridge itself; otherwise it is derived when the response ends. */
  settle(outcome: Outcome): void {
    this.#explicit ??= outcome
  }

  /**
   * The model and token usage read from the response; a compressed body's arrive later (decoded off
   * the client's path), and the record waits for them (`settled`).
   */
  usage(result: UsageResult | Promise<UsageResult>): void {
    if (!(result instanceof Promise)) {
      this.#applyUsage(result)
      return
    }
    this.settled = result.then((r) => this.#applyUsage(r))
  }

  #applyUsage({ model, usage }: UsageResult): void {
    this.record.model = model
    this.record.usage = usage
  }

  /** Set while usage is still being decoded: the record goes out once it resolves. */
  settled: Promise<void> | undefined

  firstByte(): void {
    this.record.firstByteMs ??= Date.now() - this.record.startedAt
  }

  /** Fills in the end of the record from how the response ended; returns it once. */
  finish(): InterceptionRecord | undefined {
    if (this.#emitted) return undefined
    this.#emitted = true
    const r = this.record
    r.durationMs = Date.now() - r.startedAt
    if (this.#explicit) r.outcome = this.#explicit
    else if (!this.#finished) r.outcome = 'client_aborted'
    else r.outcome = (r.status ?? 0) < 400 ? 'ok' : 'upstream_error'
    return r
  }
}
