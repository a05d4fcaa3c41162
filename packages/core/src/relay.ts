import type { BodyConsumer } from './upstream-call.js'

/** Where the relay writes: the client's response, whatever front serves it (node:http, a framework stream, fetch). */
export interface BodySink {
  /** false: the client is slow; the sink calls the `drain` callback it was given when it can take more. */
  write(chunk: Buffer): boolean
  end(): void
  /** Ends the client's response as broken: a reset connection (node), an erroring stream (fetch); `cause` is why. */
  fail(cause: Error): void
}

export interface RelayOptions {
  /**
   * For an SSE response: the event to send when the source dies mid-way; undefined resets instead.
   * When set, bytes after the last complete event are held until their event completes, so a death
   * never leaves half an event on the client (the SDKs would choke on its JSON instead of raising).
   */
  sseErrorEvent: ((lastEvent: Buffer | undefined) => string) | undefined
  onFirstChunk(): void
  /** Every chunk as it goes to the client (usage accounting); absent when nobody reads them. */
  onChunk: ((chunk: Buffer) => void) | undefined
  /** The relay is over (once, clean or not); absent when nobody needs to know. */
  onDone: (() => void) | undefined
  /** The source died mid-body; `graceful` when an error event ended the stream, else the sink was destroyed. */
  onTruncated(err: Error, graceful: boolean): void
  /** Set when the client is gone, so a source error is not mistaken for a truncation. */
  clientGone(): boolean
}

const LF = 10
const CR = 13
// An event held back longer than this goes out unfinished: a stream that never ends its events must
// not pile up in memory. (No SSE client could use such a stream event by event anyway.)
const HOLD_LIMIT = 16 * 1024 * 1024

/**
 * The upstream body on its way to the client: chunks are passed on as they arrive, and a source that
 * dies mid-body never looks like a clean end. Backpressure is the sink's `write` result, which the
 * upstream call turns into a paused socket. An SSE stream goes event by event: a chunk is sent up to
 * its last complete event and the rest waits for the chunk that completes it; a death then means one
 * provider-shaped error event and the end (the official SDKs raise it). Any other body is destroyed,
 * which the client sees as a reset connection.
 */
export class BodyRelay implements BodyConsumer {
  readonly #sink: BodySink
  readonly #options: RelayOptions
  #started = false
  // SSE only: bytes of an event not yet complete, and the last two bytes seen (sent or held).
  #held: Buffer[] | undefined
  #heldBytes = 0
  readonly #last: [number, number] = [0, 0]
  // SSE only: what was sent ends with a whole event (false once an event over HOLD_LIMIT went out).
  #atBoundary = true
  // SSE only: the last chunk sent, which ends with the last event the client got.
  #lastSent: Buffer | undefined

  constructor(sink: BodySink, options: RelayOptions) {
    this.#sink = sink
    this.#options = options
  }

  data(chunk: Buffer): boolean {
    if (chunk.length === 0) return true
    if (!this.#options.sseErrorEvent) return this.#push(chunk)
    const last = this.#last
    const end = lastEventEnd(chunk, last)
    last[0] = chunk.length >= 2 ? chunk[chunk.length - 2]! : last[1]
    last[1] = chunk[chunk.length - 1]!
    if (end === -1) {
      this.#hold(chunk)
      if (this.#heldBytes <= HOLD_LIMIT) return true
      this.#atBoundary = false
      return this.#flushHeld()
    }
    this.#flushHeld()
    this.#atBoundary = true
    if (end < chunk.length) this.#hold(chunk.subarray(end))
    return this.#push(end === chunk.length ? chunk : chunk.subarray(0, end))
  }

  end(): void {
    // A clean end: whatever the provider sent goes to the client, complete event or not.
    this.#flushHeld()
    this.#options.onDone?.()
    this.#sink.end()
  }

  error(err: Error): void {
    this.#options.onDone?.()
    if (this.#options.clientGone()) {
      this.#sink.fail(err)
      return
    }
    const event = this.#options.sseErrorEvent
    this.#options.onTruncated(err, event !== undefined)
    if (!event) {
      this.#sink.fail(err)
      return
    }
    // The half event held back is dropped; one sent unfinished (over the hold limit) is closed first
    // so the error event stands on its own.
    this.#held = undefined
    this.#push(Buffer.from((this.#atBoundary ? '' : '\n\n') + event(this.#lastSent), 'utf8'))
    this.#sink.end()
  }

  #hold(chunk: Buffer): void {
    ;(this.#held ??= []).push(chunk)
    this.#heldBytes += chunk.length
  }

  #flushHeld(): boolean {
    const held = this.#held
    if (!held) return true
    this.#held = undefined
    this.#heldBytes = 0
    let ok = true
    for (const chunk of held) ok = this.#push(chunk)
    return ok
  }

  #push(chunk: Buffer): boolean {
    if (!this.#started) {
      this.#started = true
      this.#options.onFirstChunk()
    }
    this.#options.onChunk?.(chunk)
    this.#lastSent = chunk
    return this.#sink.write(chunk)
  }
}

/**
 * Where the last complete SSE event in `buf` ends (just after its blank line), or -1. `before` holds
 * the two bytes that came before `buf`, for a blank line split across chunks. Lines end in LF, CRLF or
 * CR (the SSE grammar); a blank line is LF LF, LF CR LF (so CRLF CRLF), or CR CR.
 */
export function lastEventEnd(buf: Buffer, before: readonly [number, number]): number {
  const at = (i: number): number => (i >= 0 ? buf[i]! : before[2 + i]!)
  // Every line end, last first (LF and CR found natively): the first that closes an empty line wins.
  let lf = buf.lastIndexOf(LF)
  let cr = buf.lastIndexOf(CR)
  while (lf !== -1 || cr !== -1) {
    const i = Math.max(lf, cr)
    if (i === lf) lf = i > 0 ? buf.lastIndexOf(LF, i - 1) : -1
    else cr = i > 0 ? buf.lastIndexOf(CR, i - 1) : -1
    // A CR followed by LF is one CRLF line end, judged at its LF.
    if (buf[i] === CR && buf[i + 1] === LF) continue
    const start = buf[i] === LF && at(i - 1) === CR ? i - 1 : i
    const previous = at(start - 1)
    if (previous === LF || previous === CR) return i + 1
  }
  return -1
}
