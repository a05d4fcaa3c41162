import type { IncomingMessage } from 'node:http'
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

const EMPTY = Buffer.alloc(0)

/**
 * Reads a body once, whole (it is replayed on failover), refusing more than `limit` bytes. `req` is the
 * request itself or a stream a host put in front of it; `declared` is the request's Content-Length.
 */
export function readBody(req: Readable, limit: number, declared?: number, hostStream = false): Promise<Buffer> {
  if (declared !== undefined && Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit))
  if (req.readableEnded) return Promise.resolve(EMPTY)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (err?: Error): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
      if (err) {
        req.pause()
        reject(err)
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
      }
    }
    const onData = (data: Buffer | string): void => {
      const chunk = typeof data === 'string' ? Buffer.from(data) : data
      size += chunk.length
      if (size > limit) return done(new BodyTooLargeError(limit))
      chunks.push(chunk)
    }
    const onEnd = (): void => done()
    // The request itself fails only when its connection does; a host's stream also on bad input.
    const onError = (err: Error): void => done(hostStream ? new BodyStreamError((err as { code?: string }).code) : new ClientGoneError())
    const onClose = (): void => {
      if (!req.readableEnded) done(new ClientGoneError())
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
    // A 'data' listener does not restart a stream that was paused explicitly.
    req.resume()
  })
}

/**
 * A body that a host framework already parsed, back to bytes: raw buffers and strings as they are,
 * URL-encoded forms re-encoded, anything else as JSON. Used only when the request stream was consumed.
 */
export function bodyFromHost(value: unknown, contentType: string | undefined): Buffer {
  if (value instanceof Readable) throw new TypeError('a stream body is read with readBody')
  if (value === undefined || value === null) return EMPTY
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (contentType !== undefined && /^\s*application\/x-www-form-urlencoded/i.test(contentType) && typeof value === 'object') {
    const form = new URLSearchParams()
    appendForm(form, '', value)
    return Buffer.from(form.toString(), 'utf8')
  }
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

/** True when something (a host body parser) already read the request stream. */
export function streamConsumed(req: IncomingMessage): boolean {
  return req.readableEnded || req.readableDidRead
}
