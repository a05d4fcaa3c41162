import { CLASSIFY_LIMIT, firstHeader, headerGetter, parseJson } from './error-body.js'
import type { KeyFailure } from './key-store.js'
import type { ProviderDialect } from './providers/index.js'
import { cooldownFromHeaders } from './retry-after.js'
import type { UpstreamCall } from './upstream-call.js'

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

const PASSED: Judgement = { verdict: PASS }

/** A judged upstream answer: the verdict, and the error that cut its body while it was read. */
export interface Judgement {
  verdict: Verdict
  /** Set when the error body broke off: the status still judges the key, but the body cannot be relayed. */
  broken?: Error
}

/**
 * Judges a pool key's answer as soon as its headers arrive: the body of a status that needs reading
 * (a small error body, at most CLASSIFY_LIMIT) is collected first and left buffered for the client.
 */
export async function judgeAnswer(dialect: ProviderDialect, call: UpstreamCall): Promise<Judgement> {
  const { status, headers } = call
  // Success and redirects never blame the key (the common case: nothing to read, nothing to allocate).
  if (status < 400) return PASSED
  let parsed: unknown
  let broken: Error | undefined
  if (dialect.needsBody(status)) {
    try {
      const small = await call.collect(CLASSIFY_LIMIT)
      if (small.complete) parsed = parseJson(small.bytes, firstHeader(headers, ['content-encoding']) ?? undefined)
    } catch (err) {
      // The status line and headers arrived: a 429 or 401 still says the key is out, body or not.
      broken = err as Error
    }
  }
  const verdict = classify(dialect, status, headerGetter(headers), parsed)
  return broken === undefined ? { verdict } : { verdict, broken }
}
