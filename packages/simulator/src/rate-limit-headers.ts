/** The rate-limit headers of a success, and the wait headers of a scripted 429, in each provider's format. */
import type { RetryStyle } from './types.js'

export type Headers = Record<string, string>

/** Rounded up to the next whole second, so a reader never waits less than asked. */
function wholeSecondAfter(now: number, seconds: number): Date {
  return new Date(Math.ceil((now + seconds * 1000) / 1000) * 1000)
}

/** RFC 3339 without milliseconds, as Anthropic sends it: `2025-01-01T00:00:02Z`. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A Go `time.Duration` string, as OpenAI's `x-ratelimit-reset-*` are: `6ms`, `2s`, `1.5s`, `1m30s`, `1h0m0s`. */
export function goDuration(seconds: number): string {
  if (seconds <= 0) return '0s'
  if (seconds < 1) return `${Math.max(1, Math.round(seconds * 1000))}ms`
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = Math.round((seconds % 60) * 1000) / 1000
  if (h > 0) return `${h}h${m}m${s}s`
  if (m > 0) return `${m}m${s}s`
  return `${s}s`
}

/** The headers that tell a client how long a rate-limited key must wait. */
export function retryHeaders(style: RetryStyle, seconds: number, now = Date.now()): Headers {
  switch (style) {
    case 'retry-after':
      // RFC 9110 section 10.2.3: delta-seconds is a whole number.
      return { 'retry-after': String(Math.ceil(seconds)) }
    case 'retry-after-ms':
      return { 'retry-after-ms': String(Math.round(seconds * 1000)) }
    case 'retry-after-both':
      // Azure OpenAI sends both.
      return { 'retry-after': String(Math.ceil(seconds)), 'retry-after-ms': String(Math.round(seconds * 1000)) }
    case 'retry-after-date':
      return { 'retry-after': wholeSecondAfter(now, seconds).toUTCString() }
    case 'anthropic-reset':
      return {
        'anthropic-ratelimit-requests-limit': String(ANTHROPIC_LIMITS.requests),
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': rfc3339(wholeSecondAfter(now, seconds)),
      }
    case 'openai-reset':
      return {
        'x-ratelimit-limit-requests': String(OPENAI_LIMITS.requests),
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': goDuration(seconds),
      }
    // Gemini's wait is in the body (`google.rpc.RetryInfo`), not a header.
    case 'retry-info':
    case 'none':
      return {}
  }
}

const ANTHROPIC_LIMITS = { requests: 4000, inputTokens: 2_000_000, outputTokens: 400_000 }
const OPENAI_LIMITS = { requests: 10_000, tokens: 30_000_000 }

/**
 * Anthropic's `anthropic-ratelimit-*` on a success. `used` counts this key's requests so far, so
 * `remaining` goes down as a real bucket would (it never reaches 0 in a test).
 */
export function anthropicSuccessHeaders(used: number, inputTokens: number, outputTokens: number, now = Date.now()): Headers {
  const reset = rfc3339(wholeSecondAfter(now, 1))
  const input = Math.max(0, ANTHROPIC_LIMITS.inputTokens - inputTokens)
  const output = Math.max(0, ANTHROPIC_LIMITS.outputTokens - outputTokens)
  return {
    'anthropic-ratelimit-requests-limit': String(ANTHROPIC_LIMITS.requests),
    'anthropic-ratelimit-requests-remaining': String(Math.max(0, ANTHROPIC_LIMITS.requests - used)),
    'anthropic-ratelimit-requests-reset': reset,
    'anthropic-ratelimit-input-tokens-limit': String(ANTHROPIC_LIMITS.inputTokens),
    'anthropic-ratelimit-input-tokens-remaining': String(input),
    'anthropic-ratelimit-input-tokens-reset': reset,
    'anthropic-ratelimit-output-tokens-limit': String(ANTHROPIC_LIMITS.outputTokens),
    'anthropic-ratelimit-output-tokens-remaining': String(output),
    'anthropic-ratelimit-output-tokens-reset': reset,
    'anthropic-ratelimit-tokens-limit': String(ANTHROPIC_LIMITS.inputTokens + ANTHROPIC_LIMITS.outputTokens),
    'anthropic-ratelimit-tokens-remaining': String(input + output),
    'anthropic-ratelimit-tokens-reset': reset,
  }
}

/** OpenAI's `x-ratelimit-*` on a success; the request bucket refills one request per `60 / limit` seconds. */
export function openaiSuccessHeaders(used: number, tokens: number): Headers {
  const refill = 60 / OPENAI_LIMITS.requests
  return {
    'x-ratelimit-limit-requests': String(OPENAI_LIMITS.requests),
    'x-ratelimit-remaining-requests': String(Math.max(0, OPENAI_LIMITS.requests - used)),
    'x-ratelimit-reset-requests': goDuration(refill * Math.min(used, OPENAI_LIMITS.requests)),
    'x-ratelimit-limit-tokens': String(OPENAI_LIMITS.tokens),
    'x-ratelimit-remaining-tokens': String(Math.max(0, OPENAI_LIMITS.tokens - tokens)),
    'x-ratelimit-reset-tokens': goDuration((60 * tokens) / OPENAI_LIMITS.tokens),
  }
}
