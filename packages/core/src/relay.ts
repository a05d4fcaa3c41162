import { Readable } from 'node:stream'
import { errors as undiciErrors } from 'undici'

export interface RelayOptions {
  /** Bytes already read from the source (while classifying an error), sent first. */
  prefix?: Buffer
  /** The longest silence from the source while the client is keeping up; longer counts as a death. */
  idleMs: number
  /** For an SSE response: the event to send when the source dies mid-way; undefined destroys instead. */
  sseErrorEvent?: () => string
  onFirstChunk(): void
  /** The source died mid-body; `graceful` when an error event ended the stream instead of a reset. */
  onTruncated(err: Error, graceful: boolean): void
  /** Set when the client is gone, so a source error is not mistaken for a truncation. */
  clientGone(): boolean
}

const LF = 10
const CR = 13

/**
 * The upstream body on its way to the client: chunks are passed on as they arrive, the source is
 * paused while the client is slow (backpressure), and a source that dies mid-body never looks like
 * a clean end. For SSE that means one provider-shaped error event then the end (the official SDKs
 * raise it); for anything else the stream is destroyed, which the caller turns into a reset connection.
 */
export class UpstreamRelay extends Readable {
  readonly #source: Readable
  readonly #options: RelayOptions
  #started = false
  // The last two bytes sent, to know whether the stream stands at an SSE event boundary.
  #tail = [LF, LF]
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
    if (!this.#started) {
      this.#started = true
      this.#options.onFirstChunk()
    }
    const n = chunk.length
    if (n >= 2) this.#tail = [chunk[n - 2]!, chunk[n - 1]!]
    else if (n === 1) this.#tail = [this.#tail[1]!, chunk[0]!]
    return this.push(chunk)
  }

  #atEventBoundary(): boolean {
    const [a, b] = this.#tail
    return (a === LF && b === LF) || (a === CR && b === CR) || (a === LF && b === CR)
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
      // A partial event is closed first so the error event stands on its own.
      const sep = this.#atEventBoundary() ? '' : '\n\n'
      this.push(Buffer.from(sep + event(), 'utf8'))
      this.push(null)
    } else {
      this.destroy(err)
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
