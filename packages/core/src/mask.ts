import { createHash } from 'node:crypto'

/**
 * The printable hint of a secret: enough to tell keys apart in a log, never enough to use one.
 * 20+ characters keep the first 4 and last 4, 10 to 19 keep 2 and 2, 5 to 9 keep 1 and 1,
 * anything shorter gives `...`.
 */
export function maskKey(key: string): string {
  const n = key.length
  const keep = n >= 20 ? 4 : n >= 10 ? 2 : n >= 5 ? 1 : 0
  if (keep === 0) return '...'
  return `${key.slice(0, keep)}...${key.slice(n - keep)}`
}

/**
 * A stable, non-reversible id for a key. The same key gives the same id in every process,
 * so a shared store (Redis) can hold state for it without ever seeing the key.
 */
export function fingerprint(key: string): string {
  return 'k_' + createHash('sha256').update(key).digest('hex').slice(0, 16)
}
