import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { Exchange } from './exchange.js'
import type { Engine } from './failover.js'
import { clientResponseHeaders, isEventStream, isPlain, SSE_HEADERS } from './headers.js'
import { BodyRelay, type BodySink } from './relay.js'
import type { UpstreamCall } from './upstream-call.js'
import { usageReader } from './usage.js'

/** The status line and headers the client gets for a live upstream answer. */
export interface ClientHead {
  status: number
  headers: OutgoingHttpHeaders
  /** An SSE stream: it must reach the client event by event (no compression, no buffering). */
  eventStream: boolean
}

export function clientHead(call: UpstreamCall): ClientHead {
  const headers = clientResponseHeaders(call.headers)
  const eventStream = isEventStream(call.headers['content-type'])
  if (eventStream) Object.assign(headers, SSE_HEADERS)
  return { status: call.status, headers, eventStream }
}

/**
 * Starts relaying a live upstream answer's body into `sink`; the sink calls the returned `drain` when a
 * slow client can take more.
 */
export function relayBody(engine: Engine, ex: Exchange, call: UpstreamCall, eventStream: boolean, sink: BodySink): void {
  const { dialect, name } = ex.provider.config
  const { path } = ex.record
  // Model and usage go only into records: with nobody reading them, no answer is scanned.
  const usage = engine.recordsRead || engine.observers.active ? usageReader(dialect.type, path, call.status, call.headers) : undefined
  // An error event can only be appended to a body the client reads as plain text.
  const relay = new BodyRelay(sink, {
    sseErrorEvent:
      eventStream && isPlain(call.headers['content-encoding'])
        ? (lastEvent) => dialect.sseErrorEvent('aibridge: the provider stream ended unexpectedly', path, lastEvent)
        : undefined,
    onFirstChunk: () => ex.firstByte(),
    onChunk: usage && ((chunk) => usage.chunk(chunk)),
    onDone: usage && (() => ex.usage(usage.end())),
    clientGone: () => ex.clientGone,
    onTruncated: (err, graceful) => {
      ex.settle('truncated')
      // Reset before its first byte: the status line never left either (Node sends it with the body).
      if (!graceful && ex.record.firstByteMs === null) ex.record.status = null
      engine.logger.warn({ provider: name, code: (err as { code?: string }).code, graceful, requestId: ex.record.id }, 'aibridge: upstream body ended mid-way')
    },
  })
  call.relayTo(relay)
}

/** Collects a body that is already whole (see `wholeBody`). */
class BufferSink implements BodySink {
  readonly chunks: Buffer[] = []
  write(chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return true
  }
  end(): void {}
  fail(): void {}
}

/**
 * A live answer whose body already arrived whole (a small JSON answer comes in the packet of its
 * headers), run through the same relay (first byte, usage) into one buffer: the front sends it at once,
 * with no stream, listener or pipe per request.
 */
export function wholeBody(engine: Engine, ex: Exchange, call: UpstreamCall, eventStream: boolean): Buffer {
  const sink = new BufferSink()
  relayBody(engine, ex, call, eventStream, sink)
  const { chunks } = sink
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}

/** The node:http front's sink: chunks go straight into the ServerResponse, `drain` resumes the upstream. */
export function responseSink(res: ServerResponse, call: UpstreamCall): BodySink {
  res.on('drain', () => call.resume())
  return {
    write: (chunk) => res.write(chunk),
    end: () => res.end(),
    fail: () => res.destroy(),
  }
}

/**
 * The adapters' sink: a Readable that a framework sends its own way (Koa's `ctx.body`, Fastify's
 * `reply.send`). Reading it resumes the upstream; destroying it aborts the upstream request. A body
 * that breaks resets the client's connection, as on the node front, and then ends the stream quietly
 * (an error would only reach a framework's error handler as a second report: Koa prints its stack).
 */
export class BodyStream extends Readable implements BodySink {
  readonly #call: UpstreamCall
  readonly #res: ServerResponse

  constructor(call: UpstreamCall, res: ServerResponse) {
    super()
    this.#call = call
    this.#res = res
  }

  fail(): void {
    this.#res.destroy()
    this.destroy()
  }

  write(chunk: Buffer): boolean {
    return this.push(chunk)
  }

  end(): void {
    this.push(null)
  }

  override _read(): void {
    this.#call.resume()
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#call.abort()
    callback(err)
  }
}

/** How a `WebBody` ends, for the fetch front's bookkeeping. */
export interface WebBodyEvents {
  /** The body reached the stream whole (`complete`), or ended broken or cancelled. Called once. */
  closed(complete: boolean): void
  /** The reader cancelled the stream (before it closed): the upstream request must stop. */
  cancelled(): void
  /** What the reader sees as the error of a body that broke off (`cause`: the upstream's error). */
  failure(cause: Error): unknown
}

// A Response body buffers this much before the upstream socket is paused (about what a node:http
// response holds before write() says to wait).
const WEB_BODY_HIGH_WATER_MARK = 64 * 1024

/**
 * The fetch front's sink: a web ReadableStream that a Response carries. It is pull-based: once the
 * stream holds more than its high-water mark the upstream call is paused, and the reader's next pull
 * resumes it. Cancelling the stream aborts the upstream request; a body that breaks errors the
 * stream (an SSE stream gets its error event and a clean end from the relay instead).
 */
export class WebBody implements BodySink {
  readonly stream: ReadableStream<Uint8Array>
  readonly #events: WebBodyEvents
  #controller!: ReadableStreamDefaultController<Uint8Array>
  #open = true
  #paused = false

  constructor(call: UpstreamCall, events: WebBodyEvents) {
    this.#events = events
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller
        },
        pull: () => {
          if (!this.#paused) return
          this.#paused = false
          call.resume()
        },
        cancel: () => {
          if (!this.#close()) return
          this.#events.cancelled()
          this.#events.closed(false)
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: WEB_BODY_HIGH_WATER_MARK }),
    )
  }

  write(chunk: Buffer): boolean {
    // After a cancel the upstream is being aborted: what still arrives has no reader.
    if (!this.#open) return true
    this.#controller.enqueue(chunk)
    if (this.#controller.desiredSize! > 0) return true
    this.#paused = true
    return false
  }

  end(): void {
    if (!this.#close()) return
    this.#controller.close()
    this.#events.closed(true)
  }

  fail(cause: Error): void {
    if (!this.#close()) return
    this.#controller.error(this.#events.failure(cause))
    this.#events.closed(false)
  }

  /** True the first time: the stream ends once, whichever way. */
  #close(): boolean {
    if (!this.#open) return false
    this.#open = false
    return true
  }
}
