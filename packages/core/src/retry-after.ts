/**
 * How long a provider asked a rate-limited key to wait, from its response headers.
 * Returns milliseconds, or undefined when no header gives a usable answer. Never throws.
 */

type HeaderGetter = (name: string) => string | undefined

const DELTA_SECONDS = /^\s*(\d+(?:\.\d+)?)\s*$/

/** `retry-after-ms`: a number of milliseconds (OpenAI and Anthropic SDKs read it first). */
function parseRetryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const m = DELTA_SECONDS.exec(value)
  if (!m) return undefined
  const ms = Number(m[1])
  return Number.isFinite(ms) ? ms : undefined
}

/**
 * `Retry-After` (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date.
 * A decimal delta is accepted (some providers send `1.5`); a date in the past means 0.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const m = DELTA_SECONDS.exec(value)
  if (m) {
    const s = Number(m[1])
    return Number.isFinite(s) ? s * 1000 : undefined
  }
  // HTTP-date needs a weekday or month name; a bare number that failed above is garbage.
  if (!/[a-z]/i.test(value)) return undefined
  const at = Date.parse(value)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g
const DURATION_WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }

/** OpenAI's `x-ratelimit-reset-*` durations: `6m0s`, `1.5s`, `20ms`, `1h2m3s`. */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const v = value.trim()
  if (v === '' || !DURATION_WHOLE.test(v)) return undefined
  let total = 0
  for (const part of v.matchAll(DURATION_PART)) {
    total += Number(part[1]) * (UNIT_MS[part[2]!] ?? 0)
  }
  return Number.isFinite(total) ? total : undefined
}

/** Anthropic's `anthropic-ratelimit-*-reset`: an RFC 3339 timestamp. */
function parseTimestamp(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const at = Date.parse(value.trim())
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}

const ANTHROPIC_LIMITS = ['requests', 'tokens', 'input-tokens', 'output-tokens']
const OPENAI_LIMITS = ['requests', 'tokens']

/**
 * The reset of the limit that is actually exhausted (its `remaining` is 0); when none says
 * so, the latest reset, since waiting less than that may hit the same wall again.
 */
function resetFromLimits(
  get: HeaderGetter,
  limits: string[],
  remainingName: (l: string) => string,
  resetName: (l: string) => string,
  parse: (v: string | undefined) => number | undefined,
): number | undefined {
  let exhausted: number | undefined
  let latest: number | undefined
  for (const limit of limits) {
    const reset = parse(get(resetName(limit)))
    if (reset === undefined) continue
    latest = latest === undefined ? reset : Math.max(latest, reset)
    if (get(remainingName(limit))?.trim() === '0') {
      exhausted = exhausted === undefined ? reset : Math.max(exhausted, reset)
    }
  }
  return exhausted ?? latest
}

/**
 * The cooldown a 429 asks for, in milliseconds: `retry-after-ms`, then `Retry-After`, then the
 * provider's reset headers. Undefined when none parse (the caller applies its default).
 */
export function cooldownFromHeaders(get: HeaderGetter, now: number): number | undefined {
  const ms = parseRetryAfterMs(get('retry-after-ms'))
  if (ms !== undefined) return ms
  const ra = parseRetryAfter(get('retry-after'), now)
  if (ra !== undefined) return ra
  const anthropic = resetFromLimits(
    get,
    ANTHROPIC_LIMITS,
    (l) => `anthropic-ratelimit-${l}-remaining`,
    (l) => `anthropic-ratelimit-${l}-reset`,
    (v) => parseTimestamp(v, now),
  )
  if (anthropic !== undefined) return anthropic
  return resetFromLimits(
    get,
    OPENAI_LIMITS,
    (l) => `x-ratelimit-remaining-${l}`,
    (l) => `x-ratelimit-reset-${l}`,
    parseDuration,
  )
}
