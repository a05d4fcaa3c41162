import * as zlib from 'node:zlib'
import type { Transform } from 'node:stream'
import { keyNeedle, lastObject, stringValue } from './json-scan.js'
import type { TokenUsage } from './record.js'

/** The model and token counts a provider reported in a response. */
export interface UsageResult {
  model: string | null
  usage: TokenUsage | null
}

/**
 * Reads the model and token usage out of a response body while it is relayed. The body is never
 * copied whole: the reader keeps references to a bounded head and tail of the buffers it is given
 * (so they must not be reused after `chunk()`, which no Node stream does), scans stream events
 * with `indexOf` and parses only the few bytes that hold usage.
 */
export interface UsageReader {
  /** Each chunk of the response body exactly as relayed to the client, in any chunking. */
  chunk(buf: Buffer): void
  /**
   * The body ended (cleanly, or cut short: what was seen still counts). A result at once for an
   * uncompressed body; a promise (never rejected) when a compressed one is still being decoded.
   * Call it once for every reader made, so that a decoder is released.
   */
  end(): UsageResult | Promise<UsageResult>
}

/**
 * Limits of the usage reader. A JSON body larger than `jsonBytes` (by its Content-Length, or once
 * that many bytes have gone by, decoded) is skipped: its record has `usage: null`. A compressed
 * event stream is decoded up to `streamDecodedBytes`; past that the usage seen so far stands.
 * Uncompressed event streams have no limit: they are scanned event by event in bounded memory.
 */
export const USAGE_LIMITS = {
  jsonBytes: 16 * 1024 * 1024,
  streamDecodedBytes: 128 * 1024 * 1024,
} as const

// Compressed bytes waiting for the decoder (which runs off the main thread); more means it cannot
// keep up, and reading usage is not worth holding more of the body in memory.
const PENDING_LIMIT = 4 * 1024 * 1024
// The model comes first in every provider's answer but Gemini's; usage comes last.
const HEAD = 8 * 1024
const TAIL = 64 * 1024
const LF = 0x0a

/** How one provider family says it: the key names, and how its usage object maps onto `TokenUsage`. */
interface Dialect {
  usage: Buffer
  model: Buffer
  /** The model key is at the end of the answer (Gemini's `modelVersion`), not the start. */
  modelLast: boolean
  read(u: Record<string, unknown>): TokenUsage
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null
}

function field(obj: unknown, name: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[name] : undefined
}

const anthropic: Dialect = {
  usage: keyNeedle('usage'),
  model: keyNeedle('model'),
  modelLast: false,
  read: (u) => ({
    inputTokens: count(u.input_tokens),
    outputTokens: count(u.output_tokens),
    cacheReadTokens: count(u.cache_read_input_tokens),
    cacheWriteTokens: count(u.cache_creation_input_tokens),
  }),
}

const openai: Dialect = {
  usage: keyNeedle('usage'),
  model: keyNeedle('model'),
  modelLast: false,
  // Chat Completions (and legacy completions, embeddings) count prompt/completion tokens; the
  // Responses API input/output tokens. Both keep cached input inside the input count.
  read: (u) =>
    'prompt_tokens' in u || 'completion_tokens' in u
      ? {
          inputTokens: count(u.prompt_tokens),
          outputTokens: count(u.completion_tokens),
          cacheReadTokens: count(field(u.prompt_tokens_details, 'cached_tokens')),
          cacheWriteTokens: null,
        }
      : {
          inputTokens: count(u.input_tokens),
          outputTokens: count(u.output_tokens),
          cacheReadTokens: count(field(u.input_tokens_details, 'cached_tokens')),
          cacheWriteTokens: null,
        },
}

const gemini: Dialect = {
  usage: keyNeedle('usageMetadata'),
  model: keyNeedle('modelVersion'),
  modelLast: true,
  read: (u) => ({
    inputTokens: count(u.promptTokenCount),
    outputTokens: count(u.candidatesTokenCount),
    cacheReadTokens: count(u.cachedContentTokenCount),
    cacheWriteTokens: null,
  }),
}

// Which requests answer with usage: by the end of the path, so a base path or an Azure deployment
// prefix does not matter. Anything else (count_tokens, models, files, a GET of a stored response)
// gets no reader.
const ROUTES: Record<string, { dialect: Dialect; paths: RegExp }> = {
  anthropic: { dialect: anthropic, paths: /\/messages$/ },
  openai: { dialect: openai, paths: /\/(chat\/completions|completions|responses|embeddings)$/ },
  azure: { dialect: openai, paths: /\/(chat\/completions|completions|responses|embeddings)$/ },
  gemini: { dialect: gemini, paths: /:(generateContent|streamGenerateContent)$/ },
}

type Header = string | string[] | undefined

function one(value: Header): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

const zstd = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress

function decoderFor(encoding: string): ((first: Buffer) => Transform) | undefined {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return () => zlib.createGunzip()
    case 'br':
      return () => zlib.createBrotliDecompress()
    // RFC 9110 §8.4.1.2 says zlib-wrapped; some servers send raw deflate. A zlib header is one CM=8
    // byte and a check byte that makes the pair a multiple of 31.
    case 'deflate':
      return (first) => (first.length >= 2 && (first[0]! & 0x0f) === 8 && ((first[0]! << 8) | first[1]!) % 31 === 0 ? zlib.createInflate() : zlib.createInflateRaw())
    case 'zstd':
      return zstd && (() => zstd())
    default:
      return undefined
  }
}

/**
 * A reader for this response, or undefined when there is nothing to read: not a 2xx, a path that
 * answers without usage, a body neither JSON nor an event stream, a JSON body larger than
 * `USAGE_LIMITS.jsonBytes` by its Content-Length, or a content coding that cannot be decoded.
 * `type` is the provider's type (`anthropic`, `openai`, `azure` (OpenAI's rules) or `gemini`);
 * `path` is the request path (a query string is ignored).
 */
export function usageReader(
  type: string,
  path: string,
  status: number,
  headers: { 'content-type'?: Header; 'content-encoding'?: Header; 'content-length'?: Header },
): UsageReader | undefined {
  const route = ROUTES[type]
  if (!route || status < 200 || status > 299) return undefined
  const q = path.indexOf('?')
  if (!route.paths.test(q === -1 ? path : path.slice(0, q))) return undefined
  const contentType = one(headers['content-type'])?.toLowerCase() ?? ''
  const sse = contentType.startsWith('text/event-stream')
  if (!sse && !/^application\/([\w.+-]*\+)?json\b/.test(contentType)) return undefined
  const encoding = one(headers['content-encoding'])?.trim().toLowerCase() ?? ''
  const identity = encoding === '' || encoding === 'identity'
  if (!sse && identity && Number(one(headers['content-length']) ?? 0) > USAGE_LIMITS.jsonBytes) return undefined
  const sink = sse ? new EventStreamSink(route.dialect) : new JsonSink(route.dialect)
  if (identity) return { chunk: (buf) => sink.add(buf), end: () => sink.result() }
  const decoder = decoderFor(encoding)
  return decoder && new Decoding(sink, decoder, sse ? USAGE_LIMITS.streamDecodedBytes : USAGE_LIMITS.jsonBytes)
}

interface Sink {
  add(buf: Buffer): void
  result(): UsageResult
}

/** Usage counts merged across events: each count is the latest one given (Anthropic's `message_delta` after `message_start`). */
class Tally {
  model: string | null = null
  #usage: TokenUsage | null = null

  constructor(readonly dialect: Dialect) {}

  /** Reads usage and, while it is unknown, the model out of one JSON document or a piece of it. */
  scan(buf: Buffer): void {
    const found = lastObject(buf, this.dialect.usage)
    if (found) this.#merge(this.dialect.read(found))
    this.scanModel(buf)
  }

  scanModel(buf: Buffer): void {
    if (this.model === null) this.model = stringValue(buf, this.dialect.model, this.dialect.modelLast) ?? null
  }

  #merge(next: TokenUsage): void {
    const prev = this.#usage
    if (!prev) {
      if (next.inputTokens !== null || next.outputTokens !== null || next.cacheReadTokens !== null || next.cacheWriteTokens !== null) this.#usage = next
      return
    }
    prev.inputTokens = next.inputTokens ?? prev.inputTokens
    prev.outputTokens = next.outputTokens ?? prev.outputTokens
    prev.cacheReadTokens = next.cacheReadTokens ?? prev.cacheReadTokens
    prev.cacheWriteTokens = next.cacheWriteTokens ?? prev.cacheWriteTokens
  }

  result(): UsageResult {
    return { model: this.model, usage: this.#usage && { ...this.#usage } }
  }
}

/** The first `HEAD` and last `TAIL` bytes of a run of bytes, held by reference; the middle is let go. */
class Capture {
  #head: Buffer[] = []
  #headBytes = 0
  #tail: Buffer[] = []
  #tailBytes = 0
  total = 0

  add(buf: Buffer): void {
    this.total += buf.length
    if (this.#headBytes < HEAD) {
      const n = Math.min(buf.length, HEAD - this.#headBytes)
      this.#head.push(n === buf.length ? buf : buf.subarray(0, n))
      this.#headBytes += n
      if (n === buf.length) return
      buf = buf.subarray(n)
    }
    if (buf.length >= TAIL) {
      this.#tail = [buf.subarray(buf.length - TAIL)]
      this.#tailBytes = TAIL
      return
    }
    this.#tail.push(buf)
    this.#tailBytes += buf.length
    while (this.#tailBytes - this.#tail[0]!.length >= TAIL) this.#tailBytes -= this.#tail.shift()!.length
    // Many tiny chunks: the newest 64 become one buffer (each byte is copied once at most), so the
    // list stays short.
    if (this.#tail.length > 64) this.#tail.push(Buffer.concat(this.#tail.splice(-64)))
  }

  get empty(): boolean {
    return this.total === 0
  }

  /** Every byte, when none was let go; otherwise undefined (use `head` and `tail`). */
  whole(): Buffer | undefined {
    if (this.total !== this.#headBytes + this.#tailBytes) return undefined
    return this.#tail.length === 0 && this.#head.length === 1 ? this.#head[0] : Buffer.concat([...this.#head, ...this.#tail], this.total)
  }

  head(): Buffer {
    return Buffer.concat(this.#head, this.#headBytes)
  }

  tail(): Buffer {
    const tail = Buffer.concat(this.#tail, this.#tailBytes)
    return tail.length > TAIL ? tail.subarray(tail.length - TAIL) : tail
  }

  reset(): void {
    this.#head = []
    this.#headBytes = 0
    this.#tail = []
    this.#tailBytes = 0
    this.total = 0
  }
}

/** Scans a captured document: whole when small, else the model in its head and usage in its tail. */
function scanCapture(tally: Tally, capture: Capture): void {
  const whole = capture.whole()
  if (whole) {
    tally.scan(whole)
    return
  }
  if (!tally.dialect.modelLast) tally.scanModel(capture.head())
  tally.scan(capture.tail())
}

/** A JSON body: usage from its tail, the model from its head (Gemini's from its tail). */
class JsonSink implements Sink {
  readonly #tally: Tally
  readonly #capture = new Capture()

  constructor(dialect: Dialect) {
    this.#tally = new Tally(dialect)
  }

  add(buf: Buffer): void {
    if (this.#capture.total <= USAGE_LIMITS.jsonBytes) this.#capture.add(buf)
  }

  result(): UsageResult {
    if (this.#capture.total > USAGE_LIMITS.jsonBytes) return { model: null, usage: null }
    scanCapture(this.#tally, this.#capture)
    return this.#tally.result()
  }
}

/**
 * An event stream, line by line: a line is looked at only when it holds the usage key (or, while
 * the model is unknown, the model key), found with `indexOf` over each chunk. Every provider sends
 * an event's JSON on one `data:` line (LF or CRLF endings); a line cut across chunks is captured,
 * and one longer than the capture (an OpenAI `response.completed` that repeats the whole output)
 * keeps its head and tail, where the model and the usage are.
 */
class EventStreamSink implements Sink {
  readonly #tally: Tally
  readonly #dialect: Dialect
  // The line still open at the end of the last chunk.
  readonly #line = new Capture()

  constructor(dialect: Dialect) {
    this.#tally = new Tally(dialect)
    this.#dialect = dialect
  }

  add(buf: Buffer): void {
    let start = 0
    if (!this.#line.empty) {
      const nl = buf.indexOf(LF)
      if (nl === -1) {
        this.#line.add(buf)
        return
      }
      this.#line.add(buf.subarray(0, nl))
      scanCapture(this.#tally, this.#line)
      this.#line.reset()
      start = nl + 1
    }
    const last = buf.lastIndexOf(LF)
    if (last >= start) {
      this.#lines(buf, start, last, this.#dialect.usage, (line) => this.#tally.scan(line))
      if (this.#tally.model === null) this.#lines(buf, start, last, this.#dialect.model, (line) => this.#tally.scanModel(line))
      start = last + 1
    }
    if (start < buf.length) this.#line.add(start === 0 ? buf : buf.subarray(start))
  }

  /** Hands each whole line in `buf[from, to)` that holds `needle` to `scan`. */
  #lines(buf: Buffer, from: number, to: number, needle: Buffer, scan: (line: Buffer) => void): void {
    for (let at = buf.indexOf(needle, from); at !== -1 && at < to; at = buf.indexOf(needle, at)) {
      const lineStart = at > from ? buf.lastIndexOf(LF, at - 1) + 1 : from
      const nl = buf.indexOf(LF, at)
      const lineEnd = nl === -1 || nl > to ? to : nl
      scan(buf.subarray(Math.max(lineStart, from), lineEnd))
      at = lineEnd + 1
    }
  }

  result(): UsageResult {
    // A stream cut mid-line: its last line still counts if it is whole JSON.
    if (!this.#line.empty) {
      scanCapture(this.#tally, this.#line)
      this.#line.reset()
    }
    return this.#tally.result()
  }
}

/**
 * A compressed body, decoded by zlib on its thread pool as it arrives, never on the client's path:
 * `chunk()` only queues the bytes. Decoding stops (and what was seen stands) past `limit` decoded
 * bytes, a decompression bomb included, or when the decoder falls `PENDING_LIMIT` behind.
 */
class Decoding implements UsageReader {
  readonly #sink: Sink
  readonly #make: (first: Buffer) => Transform
  readonly #limit: number
  #decoder: Transform | undefined
  // A deflate body's first byte, held until the second tells zlib from raw deflate.
  #first: Buffer | undefined
  #decoded = 0
  #stopped = false
  #gaveUp = false
  #done: Promise<UsageResult> | undefined
  #finish: (() => void) | undefined

  constructor(sink: Sink, make: (first: Buffer) => Transform, limit: number) {
    this.#sink = sink
    this.#make = make
    this.#limit = limit
  }

  chunk(buf: Buffer): void {
    if (this.#stopped || this.#done || buf.length === 0) return
    if (!this.#decoder) {
      if (this.#first) buf = Buffer.concat([this.#first, buf])
      if (buf.length < 2) {
        this.#first = buf
        return
      }
      this.#first = undefined
      this.#start(buf)
    }
    const decoder = this.#decoder!
    if (decoder.writableLength > PENDING_LIMIT) this.#stop()
    else decoder.write(buf)
  }

  #start(first: Buffer): void {
    const decoder = this.#make(first)
    this.#decoder = decoder
    decoder.on('data', (out: Buffer) => {
      if (this.#stopped) return
      this.#decoded += out.length
      if (this.#decoded > this.#limit) this.#stop()
      else this.#sink.add(out)
    })
    // Garbage, or a body cut mid-stream: what was decoded so far stands.
    decoder.on('error', () => this.#stop(false))
    decoder.on('end', () => this.#finish?.())
    decoder.on('close', () => this.#finish?.())
  }

  /** Stops decoding; over a limit (`gaveUp`), a JSON body's usage is not read at all. */
  #stop(gaveUp = true): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#gaveUp = gaveUp && this.#sink instanceof JsonSink
    this.#decoder?.destroy()
  }

  end(): Promise<UsageResult> {
    this.#done ??= new Promise<UsageResult>((resolve) => {
      const settle = (): void => resolve(this.#gaveUp ? { model: null, usage: null } : this.#sink.result())
      if (this.#first && !this.#stopped) {
        this.#start(this.#first)
        this.#decoder!.write(this.#first)
      }
      const decoder = this.#decoder
      if (!decoder || this.#stopped || decoder.destroyed) {
        settle()
        return
      }
      this.#finish = () => {
        this.#finish = undefined
        settle()
      }
      decoder.end()
    })
    return this.#done
  }
}
