import type { Readable } from 'node:stream'
import { decode } from './encoding.js'

// Error bodies read to classify a failure are small; anything larger is not one we look inside.
export const CLASSIFY_LIMIT = 64 * 1024

export function headerGetter(headers: Record<string, string | string[] | undefined>): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name]
    return Array.isArray(v) ? v[0] : v
  }
}

/**
 * Reads a small error body to classify it. When it is larger than the limit, reading stops with the
 * source paused and `complete` false, so the bytes read so far and the rest can still go to the client.
 */
export function readSmall(body: Readable): Promise<{ bytes: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (complete: boolean, err?: Error): void => {
      body.off('data', onData).off('end', onEnd).off('error', onError)
      if (err) reject(err)
      else resolve({ bytes: Buffer.concat(chunks, size), complete })
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size > CLASSIFY_LIMIT) {
        body.pause()
        settle(false)
      }
    }
    const onEnd = (): void => settle(true)
    const onError = (err: Error): void => settle(false, err)
    body.on('data', onData).on('end', onEnd).on('error', onError)
  })
}

export function parseJson(bytes: Buffer, encoding: string | undefined): unknown {
  try {
    return JSON.parse(decode(bytes, encoding).toString('utf8'))
  } catch {
    return undefined
  }
}

export function firstHeader(headers: Record<string, string | string[] | undefined>, names: readonly string[]): string | null {
  for (const name of names) {
    const v = headers[name]
    if (v !== undefined) return Array.isArray(v) ? (v[0] ?? null) : v
  }
  return null
}
