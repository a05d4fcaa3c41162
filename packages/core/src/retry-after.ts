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
  if (m) return secondsToMs(m[1]!)
  const at = parseHttpDate(value.trim())
  return at === undefined ? undefined : Math.max(0, at - now)
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)'
const TIME = '\\d{2}:\\d{2}:\\d{2}'
// RFC 9110 section 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient accepts.
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`, 'i')
const RFC850 = new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`, 'i')
const ASCTIME = new RegExp(`^${DAY} ${MONTH} (?: \\d|\\d{2}) ${TIME} \\d{4}$`, 'i')

/**
 * Epoch ms of an HTTP-date, or undefined for anything else: a lenient date parser would read garbage
 * such as `May 5` as a real (past) date and end a cooldown at once.
 */
function parseHttpDate(value: string): number | undefined {
  let text: string
  if (IMF_FIXDATE.test(value) || RFC850.test(value)) text = value
  else if (ASCTIME.test(value)) text = `${value} GMT` // asctime carries no zone; it is UTC
  else return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : at
}

// Each unit at most once, largest first, as Go's time.Duration prints them (`1h2m3.5s`, `20ms`).
const NUM = '(\\d+(?:\\.\\d+)?)'
const DURATION = new RegExp(`^(?:${NUM}h)?(?:${NUM}m(?!s))?(?:${NUM}s)?(?:${NUM}ms)?$`)
const UNIT_MS = [3_600_000, 60_000, 1000, 1] as const

/** OpenAI's `x-ratelimit-reset-*` durations: `6m0s`, `1.5s`, `20ms`, `1h2m3s`. */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const v = value.trim()
  const m = v === '' ? null : DURATION.exec(v)
  if (!m) return undefined
  let total = 0
  for (let i = 0; i < UNIT_MS.length; i++) if (m[i + 1] !== undefined) total += Number(m[i + 1]) * UNIT_MS[i]!
  return Number.isFinite(total) ? total : undefined
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/

/** Anthropic's `anthropic-ratelimit-*-reset`: an RFC 3339 timestamp (with its zone). */
function parseTimestamp(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const v = value.trim()
  if (!RFC3339.test(v)) return undefined
  const at = Date.parse(v.replace(' ', 'T'))
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
 * provider's reset headers (Anthropic's timestamps; OpenAI's and Azure OpenAI's durations).
 * Undefined when none parse (the caller applies its default).
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
    // Azure OpenAI has also spelled it `x-rate-limit-reset-tokens` (openai/openai-python#937).
    (l) => (get(`x-ratelimit-reset-${l}`) === undefined ? `x-rate-limit-reset-${l}` : `x-ratelimit-reset-${l}`),
    parseReset,
  )
}

/** OpenAI's durations (`6m0s`), or Azure OpenAI's bare seconds (`55`) in the same headers. */
function parseReset(value: string | undefined): number | undefined {
  const m = value === undefined ? null : DELTA_SECONDS.exec(value)
  return m ? secondsToMs(m[1]!) : parseDuration(value)
}

/** Seconds as milliseconds; undefined past what a number holds (a 309-digit header is no wait anyone can keep). */
function secondsToMs(seconds: string): number | undefined {
  const ms = Number(seconds) * 1000
  return Number.isFinite(ms) ? ms : undefined
}
