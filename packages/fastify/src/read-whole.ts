import type { Readable } from 'node:stream'

/** Fastify's own answer to an oversized body (FST_ERR_CTP_BODY_TOO_LARGE), without importing Fastify. */
class BodyTooLargeError extends Error {
  readonly code = 'FST_ERR_CTP_BODY_TOO_LARGE'
  readonly statusCode = 413
  constructor() {
    super('Request body is too large')
    this.name = 'FastifyError'
  }
}

/** Reads a stream whole, refusing more than `limit` bytes (counted after any decoding, against zip bombs). */
export function readWhole(stream: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (err?: Error): void => {
      stream.off('data', onData).off('end', onEnd).off('error', settle)
      if (err) reject(err)
      else resolve(Buffer.concat(chunks, size))
    }
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += bytes.length
      if (size > limit) return settle(new BodyTooLargeError())
      chunks.push(bytes)
    }
    const onEnd = (): void => settle()
    stream.on('data', onData).on('end', onEnd).on('error', settle)
    // A 'data' listener does not start a stream that was paused explicitly (as @fastify/compress does).
    stream.resume()
  })
}
