import type { KeyFailure } from './key-store.js'
import type { ProviderDialect } from './providers/index.js'
import { cooldownFromHeaders } from './retry-after.js'

/** What an upstream answer means for the key that got it. */
export type Verdict =
  | { failover: false }
  | { failover: true; reason: KeyFailure; cooldownMs?: number }

const PASS: Verdict = { failover: false }

/**
 * Decides whether an upstream status is the key's fault. Only 401/403 (authentication, unless the
 * body blames the request), 429 (rate limit or quota) and billing failures are; every other status
 * goes to the client untouched.
 * `body` is the parsed error body when `dialect.needsBody(status)` asked for it.
 */
export function classify(
  dialect: ProviderDialect,
  status: number,
  header: (name: string) => string | undefined,
  body: unknown,
  now = Date.now(),
): Verdict {
  if (dialect.isQuotaExhausted(status, body)) return { failover: true, reason: 'quota_exhausted' }
  if (status === 401 || status === 403) {
    return dialect.isRequestFault(status, body) ? PASS : { failover: true, reason: 'auth_failed' }
  }
  if (status === 429) {
    const cooldownMs = cooldownFromHeaders(header, now)
    return cooldownMs === undefined
      ? { failover: true, reason: 'rate_limited' }
      : { failover: true, reason: 'rate_limited', cooldownMs }
  }
  return PASS
}
