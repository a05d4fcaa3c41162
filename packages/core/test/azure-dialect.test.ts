import { describe, expect, test } from 'vitest'
import { classify } from '../src/classify.js'
import { azure } from '../src/providers/azure.js'
import { cooldownFromHeaders } from '../src/retry-after.js'

const NOW = Date.parse('2025-07-01T12:00:00Z')
const headers = (h: Record<string, string>) => (name: string) => h[name]
// Azure OpenAI's own 429 and 401 bodies (code as a string, no type).
const azure429 = { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 45 seconds.' } }
const azure401 = { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } }

describe('azure classification', () => {
  test('429: retry-after-ms, then Retry-After, then x-ratelimit-reset-* (durations or bare seconds)', () => {
    const v = (h: Record<string, string>) => classify(azure, 429, headers(h), azure429, NOW)
    expect(v({ 'retry-after-ms': '4500', 'retry-after': '5' })).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 4500 })
    expect(v({ 'retry-after': '45' })).toEqual({ failover: true, reason: 'rate_limited', cooldownMs: 45_000 })
    expect(v({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '55', 'x-ratelimit-reset-requests': '1' })).toMatchObject({ cooldownMs: 55_000 })
    expect(v({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s' })).toMatchObject({ cooldownMs: 360_000 })
    expect(v({})).toEqual({ failover: true, reason: 'rate_limited' })
  })

  test('401 and 403 take the key out; a 400 passes', () => {
    expect(classify(azure, 401, headers({}), azure401, NOW)).toEqual({ failover: true, reason: 'auth_failed' })
    expect(classify(azure, 403, headers({}), { error: { code: '403', message: 'Traffic is not from an approved private endpoint.' } }, NOW)).toEqual({ failover: true, reason: 'auth_failed' })
    const filtered = { error: { message: 'The response was filtered', type: null, param: 'prompt', code: 'content_filter', status: 400 } }
    expect(classify(azure, 400, headers({}), filtered, NOW)).toEqual({ failover: false })
  })
})

describe('azure credentials and errors', () => {
  test('api-key, or an Entra ID bearer token, is a client credential', () => {
    expect(azure.hasCredential({ 'api-key': 'client' }, '')).toBe(true)
    expect(azure.hasCredential({ authorization: 'Bearer eyJ0' }, '')).toBe(true)
    expect(azure.hasCredential({ authorization: 'Bearer ' }, '')).toBe(false)
    expect(azure.hasCredential({ 'x-api-key': 'k' }, '?api-version=2024-10-21&key=k')).toBe(false)
  })

  test('the query passes verbatim; the pool key goes in api-key', () => {
    expect(azure.stripCredential('?api-version=2024-10-21&key=x')).toBe('?api-version=2024-10-21&key=x')
    const h: Record<string, string> = {}
    azure.injectKey(h, 'pool-key')
    expect(h).toEqual({ 'api-key': 'pool-key' })
  })

  test("errors in OpenAI's shape, which the AzureOpenAI client parses", () => {
    expect(azure.errorBody('rate_limit', 'm', { status: 429, retryAfterSeconds: 3 })).toEqual({
      error: { message: 'm', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    })
    expect(azure.defaultBaseURL).toBeUndefined()
    expect(azure.requestIdHeaders).toContain('apim-request-id')
  })
})

describe('reset headers Azure sends', () => {
  const get = (h: Record<string, string>) => (name: string) => h[name]
  test('bare seconds, and the x-rate-limit- spelling (openai/openai-python#937)', () => {
    expect(cooldownFromHeaders(get({ 'x-ratelimit-reset-tokens': '55' }), NOW)).toBe(55_000)
    expect(cooldownFromHeaders(get({ 'x-ratelimit-reset-tokens': '1.5' }), NOW)).toBe(1500)
    expect(cooldownFromHeaders(get({ 'x-rate-limit-reset-tokens': '55', 'x-ratelimit-remaining-tokens': '0' }), NOW)).toBe(55_000)
    expect(cooldownFromHeaders(get({ 'x-ratelimit-reset-tokens': '-1' }), NOW)).toBeUndefined()
  })
})
