import type { KeyFailure } from './key-store.js'
import type { ProviderDialect } from './providers/index.js'
import { cooldownFromHeaders } from './retry-after.js'

/** What an upstream answer means for the key that got it. */
export type Verdict =
  | { failover: false }
  | { failover: true; reason: KeyFailure; cooldownMs?: number }

const PASS: Verdict = { failover: false }

function failover(reason: KeyFailure, cooldownMs: number | undefined): Verdict {
  return cooldownMs === undefined ? { failover: true, reason } : { failover: true, reason, cooldownMs }
}

/**
 * Decides whether an upstream status is the key's fault. Only 401/403 (authentication, unless the
 * body blames the request), an answer the dialect says rejects the key itself (Gemini's 400
 * `API_KEY_INVALID`), 429 (rate limit or quota) and billing failures are; every other status goes to
 * the client untouched. A cooldown named in the body (Gemini's `RetryInfo`, a daily quota's reset)
 * comes before the headers'; the pool caps every cooldown at `cooldowns.maxMs`.
 * `body` is the parsed error body when `dialect.needsBody(status)` asked for it.
 */
export function classify(
  dialect: ProviderDialect,
  status: number,
  header: (name: string) => string | undefined,
  body: unknown,
  now = Date.now(),
): Verdict {
  if (dialect.isQuotaExhausted(status, body)) return failover('quota_exhausted', dialect.cooldownFromBody(status, body, now))
  if (status === 401 || status === 403 || dialect.isKeyRejected(status, body)) {
    return dialect.isRequestFault(status, body) ? PASS : { failover: true, reason: 'auth_failed' }
  }
  if (status === 429) return failover('rate_limited', dialect.cooldownFromBody(status, body, now) ?? cooldownFromHeaders(header, now))
  return PASS
}
