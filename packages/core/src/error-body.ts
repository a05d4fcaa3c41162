import { decode } from './encoding.js'

// Error bodies read to classify a failure are small; anything larger is not one we look inside.
export const CLASSIFY_LIMIT = 64 * 1024

export function headerGetter(headers: Record<string, string | string[] | undefined>): (name: string) => string | undefined {
  return (name) => {
    const v = headers[name]
    return Array.isArray(v) ? v[0] : v
  }
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
