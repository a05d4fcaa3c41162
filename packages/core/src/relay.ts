import { Readable } from 'node:stream'
import { errors as undiciErrors } from 'undici'

export interface RelayOptions {
  /** Bytes already read from the source (while classifying an error), sent first. */
  prefix?: Buffer
  /** The longest silence from the source while the client is keeping up; longer counts as a death. */
  idleMs: number
  /**
   * For an SSE response: the event to send when the source dies mid-way; undefined destroys instead.
   * When set, bytes after the last complete event are held until their event completes, so a death
   * never leaves half an event on the client (the SDKs would choke on its JSON instead of raising).
   */
  sseErrorEvent?: () => string
  onFirstChunk(): void
  /**
   * The source died mid-body; `graceful` when an error event ended the stream. Otherwise the caller
   * resets the client connection: the relay then ends without an error of its own.
   */
  onTruncated(err: Error, graceful: boolean): void
  /** Set when the client is gone, so a source error is not mistaken for a truncation. */
  clientGone(): boolean
}

const LF = 10
const CR = 13
const CR_CR = Buffer.from('\r\r')
// An event held back longer than this goes out unfinished: a stream that never ends its events must
// not pile up in memory. (No SSE client could use such a stream event by event anyway.)
const HOLD_LIMIT = 16 * 1024 * 1024

/**
 * The upstream body on its way to the client: chunks are passed on as they arrive, the source is
 * paused while the client is slow (backpressure), and a source that dies mid-body never looks like
 * a clean end. An SSE stream goes event by event: a chunk is sent up to its last complete event and
 * the rest waits for the chunk that completes it; a death then means one provider-shaped error event
 * and the end (the official SDKs raise it). Any other body is destroyed, which the caller turns into a
 * reset connection.
 */
export class UpstreamRelay extends Readable {
  readonly #source: Readable
  readonly #options: RelayOptions
  #started = false
  // SSE only: bytes of an event not yet complete, and the last two bytes seen (sent or held).
  #held: Buffer[] = []
  #heldBytes = 0
  #last: [number, number] = [0, 0]
  // SSE only: what was sent ends with a whole event (false once an event over HOLD_LIMIT went out).
  #atBoundary = true
  // Runs only while the source flows: a slow client pausing it is backpressure, not a stalled provider.
  #idle: NodeJS.Timeout | undefined

  constructor(source: Readable, options: RelayOptions) {
    super()
    this.#source = source
    this.#options = options
    if (options.prefix && options.prefix.length > 0) this.#pass(options.prefix)
    // An error body read whole while classifying has already emitted 'end': it would never come again.
    if (source.readableEnded) {
      this.push(null)
      return
    }
    source.on('data', (chunk: Buffer) => {
      if (this.#pass(chunk)) this.#armIdle()
      else {
        this.#disarmIdle()
        source.pause()
      }
    })
    source.once('end', () => {
      this.#disarmIdle()
      // A clean end: whatever the provider sent goes to the client, complete event or not.
      this.#flushHeld()
      this.push(null)
    })
    source.once('error', (err: Error) => {
      this.#disarmIdle()
      this.#sourceFailed(err)
    })
    // A source left paused (by the error-body read) starts with the client's first read instead.
    if (!source.isPaused()) this.#armIdle()
  }

  #armIdle(): void {
    if (this.#idle) this.#idle.refresh()
    else {
      const ms = this.#options.idleMs
      this.#idle = setTimeout(() => this.#source.destroy(new undiciErrors.BodyTimeoutError()), ms).unref()
    }
  }

  #disarmIdle(): void {
    clearTimeout(this.#idle)
    this.#idle = undefined
  }

  #pass(chunk: Buffer): boolean {
    if (!this.#options.sseErrorEvent) return this.#push(chunk)
    const end = lastEventEnd(chunk, this.#last)
    this.#last = chunk.length >= 2 ? [chunk[chunk.length - 2]!, chunk[chunk.length - 1]!] : chunk.length === 1 ? [this.#last[1], chunk[0]!] : this.#last
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

  #hold(chunk: Buffer): void {
    this.#held.push(chunk)
    this.#heldBytes += chunk.length
  }

  #flushHeld(): boolean {
    let ok = true
    for (const held of this.#held) ok = this.#push(held)
    this.#held = []
    this.#heldBytes = 0
    return ok
  }

  #push(chunk: Buffer): boolean {
    if (!this.#started) {
      this.#started = true
      this.#options.onFirstChunk()
    }
    return this.push(chunk)
  }

  #sourceFailed(err: Error): void {
    if (this.destroyed) return
    if (this.#options.clientGone()) {
      this.destroy()
      return
    }
    const event = this.#options.sseErrorEvent
    this.#options.onTruncated(err, event !== undefined)
    if (event) {
      // The half event held back is dropped; one sent unfinished (over the hold limit) is closed first
      // so the error event stands on its own.
      this.#held = []
      this.#push(Buffer.from((this.#atBoundary ? '' : '\n\n') + event(), 'utf8'))
      this.push(null)
    } else {
      // The caller has reset the client's connection (onTruncated, logged there): an error here
      // would only reach a framework's error handler as a second report (Koa prints its stack).
      this.destroy()
    }
  }

  override _read(): void {
    if (this.#source.isPaused() && !this.#source.readableEnded && !this.#source.destroyed) {
      this.#armIdle()
      this.#source.resume()
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#disarmIdle()
    if (!this.#source.destroyed) this.#source.destroy()
    callback(err)
  }
}

/**
 * Where the last complete SSE event in `buf` ends (just after its blank line), or -1. `before` holds
 * the two bytes that came before `buf`, for a blank line split across chunks. Lines end in LF, CRLF or
 * CR (the SSE grammar); a blank line is LF LF, LF CR LF (so CRLF CRLF), or CR CR.
 */
export function lastEventEnd(buf: Buffer, before: readonly [number, number]): number {
  const at = (i: number): number => (i >= 0 ? buf[i]! : before[2 + i]!)
  for (let from = buf.length - 1; from >= 0; ) {
    const p = buf.lastIndexOf(LF, from)
    if (p === -1) break
    const a = at(p - 1)
    if (a === LF || (a === CR && at(p - 2) === LF)) return p + 1
    from = p - 1
  }
  const cr = buf.lastIndexOf(CR_CR)
  if (cr !== -1) return cr + 2
  return buf.length > 0 && buf[0] === CR && before[1] === CR ? 1 : -1
}
