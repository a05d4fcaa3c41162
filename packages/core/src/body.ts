import { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body is larger than the ${limit} byte limit`)
  }
}

export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection while sending its request body')
  }
}

/** A stream a host put in front of the request (a decoding hook) failed while the client was still there. */
export class BodyStreamError extends Error {
  constructor(readonly code: string | undefined) {
    super(`the request body could not be read${code ? ` (${code})` : ''}`)
  }
}

/**
 * A host parser consumed the request and kept only a value that cannot be turned back into the bytes
 * the client sent (the fields of a multipart upload, whose files it kept elsewhere).
 */
export class HostBodyError extends Error {
  static parsed(contentType: string): HostBodyError {
    return new HostBodyError(
      `a host body parser consumed this ${contentType} request and kept no raw bytes, so it cannot be forwarded: ` +
        'mount aibridge before that parser, or have the parser keep the raw body',
    )
  }

  /** The stream was read by someone else and nothing was handed over: forwarding it would send it empty. */
  static vanished(): HostBodyError {
    return new HostBodyError(
      "a host middleware read this request's body before aibridge and did not hand it over, so it cannot be forwarded: " +
        'mount aibridge before that middleware',
    )
  }
}

export const EMPTY = Buffer.alloc(0)

/**
 * Reads a body once, whole (it is replayed on failover), refusing more than `limit` bytes. `req` is the
 * request itself or a stream a host put in front of it; `declared` is the request's Content-Length.
 *
 * As few listeners as will do, and none taken off once the body is whole (the stream is over, they
 * can never fire again): adding or removing one costs microseconds on a request whose prototype a
 * framework has swapped, as Express does for every request.
 */
export function readBody(req: Readable, limit: number, declared?: number, hostStream = false): Promise<Buffer> {
  if (declared !== undefined && Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit))
  if (req.readableEnded) return Promise.resolve(EMPTY)
  // Gone before anyone listened: no 'close' or 'error' will come again.
  if (req.destroyed) return Promise.reject(hostStream ? new BodyStreamError(undefined) : new ClientGoneError())
  if (!hostStream && (req as IncomingMessage).complete === true) return bufferedBody(req, limit)
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = []
    let size = 0
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      req.off('data', onData)
      req.off('end', onEnd)
      if (onError) req.off('error', onError)
      req.off('close', onClose)
      req.pause()
      reject(err)
    }
    const onData = (data: Buffer | string): void => {
      if (settled) return
      const chunk = typeof data === 'string' ? Buffer.from(data) : data
      size += chunk.length
      if (size > limit) return fail(new BodyTooLargeError(limit))
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      if (settled) return
      settled = true
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
      chunks = []
    }
    // A node:http request emits 'error' only to listeners and always closes after it; a host's
    // stream may fail on bad input too, and need not close.
    const onError = hostStream || !(req instanceof IncomingMessage) ? (err: Error): void => fail(hostStream ? new BodyStreamError((err as { code?: string }).code) : new ClientGoneError()) : undefined
    const onClose = (): void => {
      if (!req.readableEnded) fail(new ClientGoneError())
    }
    req.on('data', onData)
    req.on('end', onEnd)
    if (onError) req.on('error', onError)
    req.on('close', onClose)
    // A 'data' listener does not restart a stream that was paused explicitly.
    req.resume()
  })
}

/**
 * A node:http request whose body has all arrived (`complete`: a small request comes in one packet with
 * its head) holds its bytes in the stream's buffer: they are taken from there at once, with no
 * listener, event or flowing mode. The stream then ends as usual ('end' on the next tick).
 */
function bufferedBody(req: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for (let data: Buffer | string | null = req.read(); data !== null; data = req.read()) {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data
    size += chunk.length
    if (size > limit) {
      req.pause()
      return Promise.reject(new BodyTooLargeError(limit))
    }
    chunks.push(chunk)
  }
  return Promise.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
}

const FORM = /^\s*application\/x-www-form-urlencoded\s*(?:;|$)/i
const MULTIPART = /^\s*multipart\//i

/**
 * A body that a host framework already parsed, back to bytes: raw buffers and strings as they are,
 * URL-encoded forms re-encoded, anything else as JSON. Used only when the request stream was consumed.
 * A multipart upload throws HostBodyError: its parsed fields (the files kept elsewhere) sent under the
 * client's Content-Type would lose the request silently.
 */
export function bodyFromHost(value: unknown, contentType: string | undefined): Buffer {
  if (value instanceof Readable) throw new TypeError('a stream body is read with readBody')
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const type = contentType ?? ''
  // A multipart body is binary: no parsed form of it, text included, gives back what was sent.
  if (MULTIPART.test(type)) throw HostBodyError.parsed(type.split(';', 1)[0]!.trim().toLowerCase())
  if (value === undefined || value === null) return EMPTY
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (FORM.test(type) && typeof value === 'object') {
    const form = new URLSearchParams()
    appendForm(form, '', value)
    return Buffer.from(form.toString(), 'utf8')
  }
  // A JSON parser, whatever type it was told to accept.
  return Buffer.from(JSON.stringify(value), 'utf8')
}

/** Nested values as `qs` (and `express.urlencoded({ extended: true })`) parsed them: `a[b]=1`, `list=1&list=2`. */
function appendForm(form: URLSearchParams, name: string, value: unknown): void {
  if (value === undefined || value === null) return
  if (Array.isArray(value)) {
    const flat = value.every((v) => typeof v !== 'object' || v === null)
    value.forEach((v, i) => appendForm(form, flat ? name : `${name}[${i}]`, v))
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) appendForm(form, name === '' ? k : `${name}[${k}]`, v)
  } else {
    form.append(name, String(value))
  }
}

/** True when the request says a body follows (a Content-Length above 0, or chunked). */
export function declaresBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** True when something (a host body parser) already read the request stream. */
export function streamConsumed(req: IncomingMessage): boolean {
  return req.readableEnded || req.readableDidRead
}

/**
 * The request body, from wherever it is: the untouched request stream; a stream a host put in front
 * of it (a decoding hook); the value a host parser left (raw bytes, a string or a parsed object); or
 * nothing, for a stream a host middleware spent without handing anything over (HostBodyError).
 * `fromHost` is true when the bytes did not come off the wire as sent (a host may have decoded them).
 */
export async function requestBody(req: IncomingMessage, given: unknown, limit: number): Promise<{ body: Buffer; fromHost: boolean }> {
  const consumed = streamConsumed(req)
  if (given !== undefined && given instanceof Readable) return { body: await readBody(given, limit, undefined, true), fromHost: true }
  if (given === undefined || !consumed) {
    // Read by a host middleware that handed nothing over: the stream is spent, not empty.
    if (consumed && declaresBody(req)) throw HostBodyError.vanished()
    // No Content-Length and not chunked: no body follows (RFC 9112 §6.3), and Node discards the
    // empty stream itself when the response ends.
    if (!consumed && !declaresBody(req)) return { body: EMPTY, fromHost: false }
    const body = await readBody(req, limit, Number(req.headers['content-length']))
    return { body, fromHost: false }
  }
  // A parser that saw an empty body still hands over a value (`{}` from express.json()).
  if (req.headers['content-length'] === '0' && req.headers['transfer-encoding'] === undefined) return { body: EMPTY, fromHost: true }
  const body = bodyFromHost(given, req.headers['content-type'])
  if (body.length > limit) throw new BodyTooLargeError(limit)
  return { body, fromHost: true }
}
