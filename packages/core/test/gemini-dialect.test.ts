import { describe, expect, test } from 'vitest'
import { errorInfo, googleError, keyInvalid400, perDay429, perMinute429, quotaFailure, retryInfo } from '../../../test/support/google.js'
import { classify } from '../src/classify.js'
import { gemini, parseProtoDuration } from '../src/providers/gemini.js'

const NOW = Date.parse('2025-07-01T12:00:00Z') // 05:00 PDT
const MIDNIGHT = Date.parse('2025-07-02T07:00:00Z')
const noHeaders = (): undefined => undefined
const headers = (h: Record<string, string>) => (name: string) => h[name]
const verdict = (status: number, body: unknown, h: (name: string) => string | undefined = noHeaders) => classify(gemini, status, h, body, NOW)

describe('gemini 429 RESOURCE_EXHAUSTED', () => {
  test('the cooldown is RetryInfo.retryDelay, ahead of Retry-After', () => {
    expect(verdict(429, perMinute429('37s'))).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 37_000 })
    expect(verdict(429, perMinute429('1.5s'), headers({ 'retry-after': '90' }))).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 1500 })
  })

  test('without a RetryInfo, Retry-After; without either, the default (no cooldown named)', () => {
    const bare = googleError(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).')
    expect(verdict(429, bare, headers({ 'retry-after': '9' }))).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 9000 })
    expect(verdict(429, bare)).toEqual({ failover: true, reason: 'rate_limited' })
    // An unreadable or missing body is judged by its status and headers alone.
    expect(verdict(429, undefined, headers({ 'retry-after': '4' }))).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 4000 })
    expect(verdict(429, 'not json')).toEqual({ failover: true, reason: 'rate_limited' })
  })

  test('a malformed retryDelay falls back to the headers', () => {
    for (const bad of ['37', '-5s', 's', '1.5m', '', 37, null, ['3s']]) {
      const body = googleError(429, 'RESOURCE_EXHAUSTED', 'x', [retryInfo(bad)])
      expect(verdict(429, body, headers({ 'retry-after': '2' })), JSON.stringify(bad)).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 2000 })
    }
  })

  test('a per-day quota is exhausted until midnight in Los Angeles, whatever retryDelay says', () => {
    expect(verdict(429, perDay429('12s'), headers({ 'retry-after': '12' }))).toEqual({ failover: true, reason: 'quota_exhausted', cooldownMs: MIDNIGHT - NOW })
    // Named in the metric only.
    const byMetric = googleError(429, 'RESOURCE_EXHAUSTED', 'x', [quotaFailure('SomeQuota', 'generativelanguage.googleapis.com/requests_per_day')])
    expect(verdict(429, byMetric)).toMatchObject({ reason: 'quota_exhausted', cooldownMs: MIDNIGHT - NOW })
    // One per-day violation among several is enough.
    const both = googleError(429, 'RESOURCE_EXHAUSTED', 'x', [
      { ...quotaFailure('GenerateRequestsPerMinutePerProjectPerModel'), violations: [
        { quotaId: 'GenerateContentInputTokensPerModelPerMinute-FreeTier' },
        { quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' },
      ] },
      retryInfo('5s'),
    ])
    expect(verdict(429, both)).toMatchObject({ reason: 'quota_exhausted' })
  })

  test('a per-minute QuotaFailure is a rate limit, not a quota exhaustion', () => {
    expect(verdict(429, perMinute429('20s'))).toMatchObject({ reason: 'rate_limited', cooldownMs: 20_000 })
  })
})

describe('gemini key failures', () => {
  test('400 with ErrorInfo API_KEY_INVALID or API_KEY_EXPIRED takes the key out', () => {
    expect(verdict(400, keyInvalid400('API_KEY_INVALID'))).toEqual({ failover: true, reason: 'auth_failed' })
    expect(verdict(400, keyInvalid400('API_KEY_EXPIRED'))).toEqual({ failover: true, reason: 'auth_failed' })
  })

  test('any other 400 goes to the client untouched', () => {
    expect(verdict(400, googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'))).toEqual({ failover: false })
    expect(verdict(400, googleError(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'))).toEqual({ failover: false })
    expect(verdict(400, googleError(400, 'INVALID_ARGUMENT', 'x', [errorInfo('SOMETHING_ELSE')]))).toEqual({ failover: false })
    expect(verdict(400, undefined)).toEqual({ failover: false })
    // The reason must be the ErrorInfo's: a message naming it is not enough.
    expect(verdict(400, googleError(400, 'INVALID_ARGUMENT', 'API_KEY_INVALID'))).toEqual({ failover: false })
  })

  test('401 and 403 PERMISSION_DENIED take the key out', () => {
    expect(verdict(401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'))).toEqual({ failover: true, reason: 'auth_failed' })
    expect(verdict(403, googleError(403, 'PERMISSION_DENIED', 'Your API key was reported as leaked. Please use another API key.'))).toEqual({ failover: true, reason: 'auth_failed' })
    expect(verdict(403, googleError(403, 'PERMISSION_DENIED', 'Generative Language API has not been used in project 1 before or it is disabled.', [errorInfo('SERVICE_DISABLED')]))).toEqual({ failover: true, reason: 'auth_failed' })
    expect(verdict(403, undefined)).toEqual({ failover: true, reason: 'auth_failed' })
  })

  test("a 403 about a resource another project's key made passes through and marks nothing", () => {
    const file = googleError(403, 'PERMISSION_DENIED', 'You do not have permission to access the File abc123 or it may not exist.')
    expect(verdict(403, file)).toEqual({ failover: false })
  })

  test('the bodies of 400, 403 and 429 are read, others are not', () => {
    expect([400, 401, 403, 404, 429, 500, 503].filter((s) => gemini.needsBody(s))).toEqual([400, 403, 429])
  })

  test('everything else passes through', () => {
    for (const status of [200, 404, 500, 503, 504]) expect(verdict(status, googleError(status, 'INTERNAL', 'x'))).toEqual({ failover: false })
  })
})

describe('protobuf Duration', () => {
  test('JSON strings and {seconds, nanos}', () => {
    expect(parseProtoDuration('37s')).toBe(37_000)
    expect(parseProtoDuration('1.5s')).toBe(1500)
    expect(parseProtoDuration('0.000001s')).toBeCloseTo(0.001)
    expect(parseProtoDuration('3.000000001s')).toBeCloseTo(3000)
    expect(parseProtoDuration('0s')).toBe(0)
    expect(parseProtoDuration({ seconds: '37', nanos: 500_000_000 })).toBe(37_500)
    expect(parseProtoDuration({ seconds: 2 })).toBe(2000)
    for (const bad of ['37', '1.5', '-1s', '1.0000000001s', 'soon', '', undefined, null, {}, ['3s'], { seconds: 'x' }, { seconds: -1 }]) {
      expect(parseProtoDuration(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })
})

describe('gemini credentials', () => {
  test('x-goog-api-key or a non-empty key= parameter is a client credential', () => {
    expect(gemini.hasCredential({ 'x-goog-api-key': 'AIza-client' }, '')).toBe(true)
    expect(gemini.hasCredential({}, '?key=AIza-client')).toBe(true)
    expect(gemini.hasCredential({}, '?alt=sse&key=AIza-client')).toBe(true)
    expect(gemini.hasCredential({}, '?%6Bey=AIza-client')).toBe(true)
    expect(gemini.hasCredential({ 'x-goog-api-key': '' }, '?key=')).toBe(false)
    expect(gemini.hasCredential({}, '?alt=sse&keys=1&apikey=2')).toBe(false)
    expect(gemini.hasCredential({}, '')).toBe(false)
    // Other dialects' headers are not Gemini credentials.
    expect(gemini.hasCredential({ 'x-api-key': 'k', 'api-key': 'k' }, '')).toBe(false)
  })

  test('stripCredential removes every key parameter and keeps the rest byte for byte', () => {
    expect(gemini.stripCredential('?key=AIza-client')).toBe('')
    expect(gemini.stripCredential('?alt=sse&key=AIza-client')).toBe('?alt=sse')
    expect(gemini.stripCredential('?key=a&alt=sse&key=b&pageSize=5')).toBe('?alt=sse&pageSize=5')
    expect(gemini.stripCredential('?%6bey=a&alt=sse')).toBe('?alt=sse')
    expect(gemini.stripCredential('?key&alt=sse')).toBe('?alt=sse')
    expect(gemini.stripCredential('?alt=sse&x=%2F%20+')).toBe('?alt=sse&x=%2F%20+')
    expect(gemini.stripCredential('?keys=1&monkey=2')).toBe('?keys=1&monkey=2')
    expect(gemini.stripCredential('?%zz=1&key=x')).toBe('?%zz=1')
    expect(gemini.stripCredential('')).toBe('')
    expect(gemini.stripCredential('?')).toBe('?')
  })

  test('a pool key goes in x-goog-api-key', () => {
    const h: Record<string, string> = {}
    gemini.injectKey(h, 'AIza-pool')
    expect(h).toEqual({ 'x-goog-api-key': 'AIza-pool' })
  })
})

describe("gemini errors in Google's shape", () => {
  test('each kind has its canonical status; code is the HTTP status', () => {
    expect(gemini.errorBody('rate_limit', 'slow down', { status: 429, retryAfterSeconds: 3 })).toEqual({
      error: {
        code: 429,
        message: 'slow down',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }],
      },
    })
    const status = (kind: Parameters<typeof gemini.errorBody>[0]) => (gemini.errorBody(kind, 'm') as { error: { code: number; status: string } }).error
    expect(status('invalid_request')).toEqual({ code: 400, status: 'INVALID_ARGUMENT', message: 'm' })
    expect(status('authentication')).toEqual({ code: 401, status: 'UNAUTHENTICATED', message: 'm' })
    expect(status('not_found')).toEqual({ code: 404, status: 'NOT_FOUND', message: 'm' })
    expect(status('too_large')).toEqual({ code: 413, status: 'INVALID_ARGUMENT', message: 'm' })
    expect(status('api_error')).toEqual({ code: 502, status: 'UNAVAILABLE', message: 'm' })
    expect(status('internal')).toEqual({ code: 500, status: 'INTERNAL', message: 'm' })
    expect(status('timeout')).toEqual({ code: 504, status: 'DEADLINE_EXCEEDED', message: 'm' })
    expect(status('unavailable')).toEqual({ code: 503, status: 'UNAVAILABLE', message: 'm' })
    expect((gemini.errorBody('api_error', 'm', { status: 599 }) as { error: { code: number } }).error.code).toBe(599)
  })

  test('a stream cut mid-way ends with a bare Google error object, as Google ends one', () => {
    const event = gemini.sseErrorEvent('aibridge: the provider stream ended unexpectedly', '/v1beta/models/m:streamGenerateContent', undefined)
    expect(JSON.parse(event)).toEqual({ error: { code: 502, message: 'aibridge: the provider stream ended unexpectedly', status: 'UNAVAILABLE' } })
    // No `data:` prefix and no blank line: @google/genai raises on a read that parses whole as this.
    expect(event.startsWith('{')).toBe(true)
    expect(event.endsWith('}')).toBe(true)
  })
})
