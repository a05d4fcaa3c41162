import type { IncomingMessage } from 'node:http'

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

const EMPTY = Buffer.alloc(0)

/** Reads the request body once, whole (it is replayed on failover), refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit))
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
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) return done(new BodyTooLargeError(limit))
      chunks.push(chunk)
    }
    const onEnd = (): void => done()
    const onError = (): void => done(new ClientGoneError())
    const onClose = (): void => {
      if (!req.readableEnded) done(new ClientGoneError())
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/**
 * A body that a host framework already parsed, back to bytes: raw buffers and strings as they are,
 * URL-encoded forms re-encoded, anything else as JSON. Used only when the request stream was consumed.
 */
export function bodyFromHost(value: unknown, contentType: string | undefined): Buffer {
  if (value === undefined || value === null) return EMPTY
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (contentType !== undefined && /^\s*application\/x-www-form-urlencoded/i.test(contentType) && typeof value === 'object') {
    const form = new URLSearchParams()
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      for (const item of Array.isArray(v) ? v : [v]) form.append(k, String(item))
    }
    return Buffer.from(form.toString(), 'utf8')
  }
  return Buffer.from(JSON.stringify(value), 'utf8')
}

/** True when something (a host body parser) already read the request stream. */
export function streamConsumed(req: IncomingMessage): boolean {
  return req.readableEnded || req.readableDidRead
}
