import type { IncomingHttpHeaders } from 'node:http'
import { errors as undiciErrors, type Dispatcher } from 'undici'

/** Where a committed upstream body goes: the relay to the client. */
export interface BodyConsumer {
  /** A chunk of the body; false asks the call to pause until `resume()`. */
  data(chunk: Buffer): boolean
  end(): void
  /** The body died after the headers (a reset, a stalled body, an abort). */
  error(err: Error): void
}

/** What `collect` read of an error body. */
export interface Collected {
  bytes: Buffer
  /** The whole body was read (false: more than the limit, and the call is paused). */
  complete: boolean
}

const enum Phase {
  Waiting,
  Buffering,
  Collecting,
  Relaying,
  Discarding,
}

/**
 * One upstream request driven through undici's `dispatch` (handler callbacks, no stream objects, no
 * AbortSignal). `head` resolves when the status line and headers arrive (or rejects when none came);
 * the body is then buffered until the engine decides: `collect` a small error body to classify it,
 * `relayTo` the client, or `discard` a failed answer. Backpressure goes straight to undici's parser
 * (`pause`/`resume`), so a slow client stops the upstream socket.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler {
  status = 0
  headers: IncomingHttpHeaders = {}
  readonly head: Promise<void>
  #settleHead!: (err?: Error) => void
  #controller: Dispatcher.DispatchController | undefined
  #abortReason: Error | undefined
  #phase = Phase.Waiting
  #chunks: Buffer[] = []
  #size = 0
  #ended = false
  #error: Error | undefined
  #limit = 0
  #collected: ((result: Collected | Error) => void) | undefined
  #consumer: BodyConsumer | undefined
  #deadline: NodeJS.Timeout | undefined
  // A body idle deadline to the millisecond, running only while the body flows (see idle()).
  #idleMs = 0
  #idle: NodeJS.Timeout | undefined
  // collect(): when enough has been read before the limit, and how long to wait for it.
  #enough: ((bytes: Buffer) => boolean) | undefined
  #wait: NodeJS.Timeout | undefined

  constructor() {
    this.head = new Promise<void>((resolve, reject) => {
      this.#settleHead = (err) => (err ? reject(err) : resolve())
    })
  }

  /** No body byte has arrived yet, and the body is still open. */
  get empty(): boolean {
    return this.#size === 0 && !this.done
  }

  /** The whole body is here, buffered, and nothing was relayed yet: it can go out as one buffer. */
  get complete(): boolean {
    return this.#ended && this.#error === undefined && this.#phase === Phase.Buffering
  }

  /** True once the body ended or failed. */
  get done(): boolean {
    return this.#ended || this.#error !== undefined
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#abortReason) controller.abort(this.#abortReason)
  }

  /**
   * A headers deadline to the millisecond. undici's own headers timeout ticks about once a second: fine
   * for the default of minutes, too coarse for a deadline of a few seconds.
   */
  deadline(ms: number): void {
    this.#deadline = setTimeout(() => {
      if (this.#phase === Phase.Waiting) this.abort(new undiciErrors.HeadersTimeoutError())
    }, ms)
  }

  /**
   * A body idle deadline to the millisecond once the body is relayed: it runs only while the client
   * keeps up (a paused body is backpressure, not a stalled provider). For short deadlines, as `deadline`.
   */
  idle(ms: number): void {
    this.#idleMs = ms
  }

  #armIdle(): void {
    if (this.#idle) this.#idle.refresh()
    else this.#idle = setTimeout(() => this.abort(new undiciErrors.BodyTimeoutError()), this.#idleMs)
  }

  #disarmIdle(): void {
    if (this.#idle) clearTimeout(this.#idle)
    this.#idle = undefined
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    // An interim answer (103 Early Hints) is not the answer, which follows (RFC 9110 section 15.2). Under
    // 100 is no status at all: undici fails such a response once past its head (an invalid response).
    if (status < 200) return
    if (this.#deadline) clearTimeout(this.#deadline)
    this.status = status
    this.headers = headers
    this.#phase = Phase.Buffering
    this.#settleHead()
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.#phase) {
      case Phase.Relaying:
        if (this.#consumer!.data(chunk)) {
          if (this.#idleMs > 0) this.#armIdle()
        } else {
          if (this.#idleMs > 0) this.#disarmIdle()
          controller.pause()
        }
        return
      case Phase.Discarding:
        this.#size += chunk.length
        if (this.#size > this.#limit) controller.abort(new DiscardedError())
        return
      default:
        this.#chunks.push(chunk)
        this.#size += chunk.length
        if (this.#phase === Phase.Collecting && (this.#size > this.#limit || (this.#enough !== undefined && this.#enough(this.#joined())))) {
          controller.pause()
          this.#finishCollect()
        }
    }
  }

  onResponseEnd(): void {
    this.#ended = true
    if (this.#idleMs > 0) this.#disarmIdle()
    if (this.#phase === Phase.Relaying) this.#consumer!.end()
    else if (this.#phase === Phase.Collecting) this.#finishCollect()
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    // Already failed by abort() before undici started the request: this is that abort coming back.
    if (this.#error) return
    if (this.#deadline) clearTimeout(this.#deadline)
    if (this.#idleMs > 0) this.#disarmIdle()
    this.#error = err
    switch (this.#phase) {
      case Phase.Waiting:
        this.#settleHead(err)
        return
      case Phase.Relaying:
        this.#consumer!.error(err)
        return
      case Phase.Collecting:
        if (this.#wait) clearTimeout(this.#wait)
        this.#collected?.(err)
        this.#collected = undefined
    }
  }

  /**
   * Reads the body after the headers, up to `limit` bytes, or until `enough` says what was read so far
   * suffices, or for at most `waitMs`: resolves with what was read (complete or not; when not, the call
   * is left paused, so `relayTo` can still send all of it), rejects when the body breaks off.
   */
  collect(limit: number, enough?: (bytes: Buffer) => boolean, waitMs?: number): Promise<Collected> {
    if (this.#error) return Promise.reject(this.#error)
    this.#limit = limit
    this.#enough = enough
    if (this.#ended || this.#size > limit || (enough && this.#size > 0 && enough(this.#joined()))) {
      if (!this.#ended) this.#controller?.pause()
      return Promise.resolve({ bytes: this.#joined(), complete: this.#ended })
    }
    this.#phase = Phase.Collecting
    if (waitMs !== undefined) this.#wait = setTimeout(() => this.#waited(), waitMs)
    return new Promise<Collected>((resolve, reject) => {
      this.#collected = (result) => (result instanceof Error ? reject(result) : resolve(result))
    })
  }

  #waited(): void {
    if (this.#phase !== Phase.Collecting) return
    this.#controller?.pause()
    this.#finishCollect()
  }

  #finishCollect(): void {
    if (this.#wait) clearTimeout(this.#wait)
    this.#wait = undefined
    this.#enough = undefined
    this.#phase = Phase.Buffering
    const done = this.#collected
    this.#collected = undefined
    done?.({ bytes: this.#joined(), complete: this.#ended })
  }

  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#size)]
    return this.#chunks[0] ?? EMPTY
  }

  /** Sends the body (what was buffered, then the rest as it comes) to `consumer`. */
  relayTo(consumer: BodyConsumer): void {
    this.#phase = Phase.Relaying
    this.#consumer = consumer
    const buffered = this.#chunks
    this.#chunks = []
    let more = true
    for (const chunk of buffered) more = consumer.data(chunk)
    if (this.#error) consumer.error(this.#error)
    else if (this.#ended) consumer.end()
    else if (more) this.resume()
    else this.#controller?.pause()
  }

  /**
   * Drops a failed answer: a small rest is read and thrown away so the connection stays alive; past
   * `limit` bytes the connection is closed instead.
   */
  discard(limit: number): void {
    this.#phase = Phase.Discarding
    this.#chunks = []
    this.#limit = limit
    if (this.done) return
    if (this.#size > limit) this.abort(new DiscardedError())
    else this.resume()
  }

  pause(): void {
    if (this.#idleMs > 0) this.#disarmIdle()
    this.#controller?.pause()
  }

  resume(): void {
    if (this.#idleMs > 0 && this.#phase === Phase.Relaying && !this.done) this.#armIdle()
    this.#controller?.resume()
  }

  /** Stops the upstream request, whatever phase it is in. */
  abort(reason?: Error): void {
    // Done: nothing to stop (and no error built for nothing: frameworks destroy every body they sent).
    if (this.done) return
    reason ??= new AbortedError()
    if (this.#controller) {
      this.#controller.abort(reason)
      return
    }
    // Still queued for a connection: fail now, and stop it when undici gets to it.
    this.#abortReason = reason
    this.onResponseError(undefined, reason)
  }
}

const EMPTY = Buffer.alloc(0)

/** The client left, or the bridge stopped the request: never reported as a provider failure. */
export class AbortedError extends Error {
  readonly code = 'AIBRIDGE_ABORTED'
  constructor() {
    super('the request was aborted')
    this.name = 'AbortError'
  }
}

class DiscardedError extends Error {
  constructor() {
    super('a failed answer larger than aibridge reads was dropped')
  }
}
