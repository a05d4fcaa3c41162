import { describe, expect, test } from 'vitest'
import { AibridgeOptionError, createBridge, DEFAULT_BODY_LIMIT, type BridgeOptions } from '../src/index.js'
import { resolveOptions } from '../src/options.js'
import { harness } from './helpers/harness.js'

const h = harness()
const SECRET = 'sk-live-DO-NOT-PRINT-0123456789abcdef'

/** The message createBridge throws for `options`, asserting it is an AibridgeOptionError without the secret. */
function rejection(options: unknown): string {
  let error: unknown
  try {
    h.own(createBridge(options as BridgeOptions))
  } catch (err) {
    error = err
  }
  expect(error, 'createBridge should have thrown').toBeInstanceOf(AibridgeOptionError)
  const e = error as AibridgeOptionError
  expect(e.code).toBe('AIBRIDGE_OPTION')
  expect(e.message).not.toContain(SECRET)
  expect(e.message).not.toContain('DO-NOT-PRINT')
  expect(e.stack ?? '').not.toContain('DO-NOT-PRINT')
  return e.message
}

describe('options are validated when the bridge is created, naming the option and the fault', () => {
  test('the configuration from the README is accepted', () => {
    const bridge = createBridge({
      providers: {
        anthropic: { keys: [SECRET] },
        openai: { keys: [SECRET + '2'], baseURL: 'https://api.openai.com/v1' },
        groq: { type: 'openai', baseURL: 'https://api.groq.com/openai/v1', keys: [SECRET + '3'] },
        copilot: { type: 'openai', baseURL: 'https://api.githubcopilot.com', keys: [] },
      },
      onInterception: () => {},
    })
    h.own(bridge)
    expect(Object.keys(bridge.keyStates())).toEqual(['anthropic', 'openai', 'groq', 'copilot'])
    expect(DEFAULT_BODY_LIMIT).toBe(32 * 1024 * 1024)
  })

  const cases: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /options must be an object/],
    ['providers missing', {}, /providers must be an object/],
    ['providers empty', { providers: {} }, /providers is empty/],
    ['an empty key', { providers: { openai: { keys: [SECRET, ''] } } }, /providers\.openai\.keys\[1\] is empty/],
    ['a blank key', { providers: { openai: { keys: ['   '] } } }, /providers\.openai\.keys\[0\] is empty/],
    ['a duplicate key', { providers: { openai: { keys: [SECRET, 'other-key-xyz', SECRET] } } }, /providers\.openai\.keys\[2\] duplicates providers\.openai\.keys\[0\]/],
    ['a key with inner whitespace', { providers: { openai: { keys: [`${SECRET} x`] } } }, /providers\.openai\.keys\[0\] contains whitespace or control characters/],
    ['a key with a newline', { providers: { openai: { keys: [`${SECRET}\nx-evil: 1`] } } }, /providers\.openai\.keys\[0\] contains whitespace or control characters/],
    ['a non-string key', { providers: { openai: { keys: [42] } } }, /providers\.openai\.keys\[0\] must be a string/],
    ['keys not an array', { providers: { openai: { keys: SECRET } } }, /providers\.openai\.keys must be an array/],
    ['a bad base URL', { providers: { openai: { keys: [SECRET], baseURL: 'not a url' } } }, /providers\.openai\.baseURL is not a valid URL/],
    ['a non-http base URL', { providers: { openai: { keys: [SECRET], baseURL: 'ftp://example.com' } } }, /providers\.openai\.baseURL must use http or https/],
    [
      'a base URL with credentials',
      { providers: { openai: { keys: [SECRET], baseURL: `https://user:${SECRET}@example.com` } } },
      /providers\.openai\.baseURL must not contain credentials/,
    ],
    [
      'a base URL with a query',
      { providers: { openai: { keys: [SECRET], baseURL: `https://example.com/v1?key=${SECRET}` } } },
      /providers\.openai\.baseURL must not contain a query/,
    ],
    ['a provider of unknown type', { providers: { groq: { keys: [SECRET], baseURL: 'https://x.example' } } }, /providers\.groq\.type is required/],
    ['a bad type', { providers: { groq: { type: 'vertex', keys: [SECRET] } } }, /providers\.groq\.type must be one of 'anthropic', 'openai', 'gemini', 'azure', got "vertex"/],
    ['a type that names an Object method', { providers: { groq: { type: 'toString', keys: [SECRET] } } }, /providers\.groq\.type must be one of/],
    ['an unknown type lists the types', { providers: { groq: { keys: [SECRET] } } }, /providers\.groq\.type is required for a provider not named after its type \('anthropic', 'openai', 'gemini', 'azure'\)/],
    [
      'azure without a base URL',
      { providers: { azure: { keys: [SECRET] } } },
      /providers\.azure\.baseURL is required for type 'azure': it has no shared endpoint \(give your resource's, e\.g\. https:\/\/my-resource\.openai\.azure\.com, or give every key its own\)/,
    ],
    ['a typed azure provider without a base URL', { providers: { eastus: { type: 'azure', keys: [SECRET] } } }, /providers\.eastus\.baseURL is required for type 'azure'/],
    ['an azure base URL with the api-version query', { providers: { azure: { keys: [SECRET], baseURL: 'https://r.openai.azure.com/openai?api-version=2024-10-21' } } }, /providers\.azure\.baseURL must not contain a query/],
    // Keys at endpoints of their own: validated like plain keys and base URLs, never printed.
    ['a key object without its key', { providers: { openai: { keys: [{ baseURL: 'https://x.example' }] } } }, /providers\.openai\.keys\[0\]\.key is required/],
    ['a key object whose key is empty', { providers: { openai: { keys: [SECRET, { key: '  ' }] } } }, /providers\.openai\.keys\[1\]\.key is empty/],
    ['a key object whose key is not a string', { providers: { openai: { keys: [{ key: 42 }] } } }, /providers\.openai\.keys\[0\]\.key must be a string/],
    ['a key object whose key has a newline', { providers: { openai: { keys: [{ key: `${SECRET}\nx: 1` }] } } }, /providers\.openai\.keys\[0\]\.key contains whitespace or control characters/],
    ['a key object duplicating a plain key', { providers: { openai: { keys: [SECRET, { key: SECRET, baseURL: 'https://x.example' }] } } }, /providers\.openai\.keys\[1\] duplicates providers\.openai\.keys\[0\]/],
    ['a key that is neither string nor object', { providers: { openai: { keys: [null] } } }, /providers\.openai\.keys\[0\] must be a string, or an object \{ key, baseURL\?, headers\? \}/],
    ['an array as a key', { providers: { openai: { keys: [[SECRET]] } } }, /providers\.openai\.keys\[0\] must be a string, or an object/],
    ['an unknown key field', { providers: { openai: { keys: [{ key: SECRET, baseUrl: 'https://x.example' }] } } }, /providers\.openai\.keys\[0\]\.baseUrl is not an option \(did you mean providers\.openai\.keys\[0\]\.baseURL\?\); known: key, baseURL, headers/],
    ['a key field named after the key is masked', { providers: { openai: { keys: [{ key: 'k-aaaaaaaaaaaaaaaaaaaa', [SECRET + '-and-more-to-be-long']: 1 }] } } }, /keys\[0\]\.sk-l\.\.\.long is not an option/],
    ['a bad key base URL', { providers: { openai: { keys: [{ key: SECRET, baseURL: 'not a url' }] } } }, /providers\.openai\.keys\[0\]\.baseURL is not a valid URL/],
    ['a key base URL that is not a string', { providers: { openai: { keys: [{ key: SECRET, baseURL: 42 }] } } }, /providers\.openai\.keys\[0\]\.baseURL must be a string URL, got 42/],
    ['a non-http key base URL', { providers: { azure: { keys: [{ key: SECRET, baseURL: 'ftp://r.example' }] } } }, /providers\.azure\.keys\[0\]\.baseURL must use http or https/],
    ['a key base URL with credentials', { providers: { azure: { keys: [{ key: SECRET, baseURL: `https://u:${SECRET}@r.example` }] } } }, /providers\.azure\.keys\[0\]\.baseURL must not contain credentials/],
    ['a key base URL with a query', { providers: { azure: { keys: [{ key: SECRET, baseURL: 'https://r.example/?api-version=1' }] } } }, /providers\.azure\.keys\[0\]\.baseURL must not contain a query/],
    ['key headers not an object', { providers: { openai: { keys: [{ key: SECRET, headers: 'x-tenant: a' }] } } }, /providers\.openai\.keys\[0\]\.headers must be an object of header names and string values/],
    ['a key header that is a credential', { providers: { openai: { keys: [{ key: SECRET, headers: { Authorization: `Bearer ${SECRET}` } }] } } }, /providers\.openai\.keys\[0\]\.headers\.Authorization is a credential header/],
    ['a key header that is another credential', { providers: { azure: { keys: [{ key: SECRET, baseURL: 'https://r.example', headers: { 'x-goog-api-key': SECRET } }] } } }, /headers\.x-goog-api-key is a credential header/],
    ['a proxy credential as a key header', { providers: { openai: { keys: [{ key: SECRET, headers: { 'Proxy-Authorization': 'Basic x' } }] } } }, /headers\.Proxy-Authorization is a credential header/],
    ['a hop-by-hop key header', { providers: { openai: { keys: [{ key: SECRET, headers: { connection: 'close' } }] } } }, /providers\.openai\.keys\[0\]\.headers\.connection is a hop-by-hop or routing header/],
    ['Host as a key header', { providers: { openai: { keys: [{ key: SECRET, headers: { Host: 'evil.example' } }] } } }, /headers\.Host is a hop-by-hop or routing header/],
    ['X-Forwarded-For as a key header', { providers: { openai: { keys: [{ key: SECRET, headers: { 'X-Forwarded-For': '1.2.3.4' } }] } } }, /headers\.X-Forwarded-For is a hop-by-hop or routing header/],
    ['Content-Length as a key header', { providers: { openai: { keys: [{ key: SECRET, headers: { 'content-length': '5' } }] } } }, /headers\.content-length is a hop-by-hop or routing header/],
    ['Accept-Encoding as a key header', { providers: { openai: { keys: [{ key: SECRET, headers: { 'Accept-Encoding': 'zstd' } }] } } }, /headers\.Accept-Encoding is a body coding header/],
    ['an invalid key header name', { providers: { openai: { keys: [{ key: SECRET, headers: { 'x tenant': 'a' } }] } } }, /headers\.x tenant is not a valid header name/],
    ['a key header name repeated in another case', { providers: { openai: { keys: [{ key: SECRET, headers: { 'X-Tenant': 'a', 'x-tenant': 'b' } }] } } }, /headers\.x-tenant repeats a header name/],
    ['a key header value with a line break', { providers: { openai: { keys: [{ key: SECRET, headers: { 'x-tenant': `a\r\nx-evil: ${SECRET}` } }] } } }, /providers\.openai\.keys\[0\]\.headers\.x-tenant must be a non-empty string of visible ASCII/],
    ['an empty key header value', { providers: { openai: { keys: [{ key: SECRET, headers: { 'x-tenant': '' } }] } } }, /headers\.x-tenant must be a non-empty string/],
    ['a key header value that is not a string', { providers: { openai: { keys: [{ key: SECRET, headers: { 'x-tenant': 7 } }] } } }, /headers\.x-tenant must be a non-empty string/],
    [
      'an azure plain key beside keys with base URLs',
      { providers: { azure: { keys: [{ key: SECRET, baseURL: 'https://eastus.example.openai.azure.com' }, SECRET + '2'] } } },
      /providers\.azure\.baseURL is required for type 'azure'.*or give every key its own/,
    ],
    ['an azure provider without keys or base URL', { providers: { azure: { keys: [] } } }, /providers\.azure\.baseURL is required for type 'azure'/],
    ['a provider name that is not URL-safe', { providers: { 'open/ai': { type: 'openai', keys: [SECRET] } } }, /providers\.open\/ai: provider names must be URL-safe/],
    ['no keys and byok false', { providers: { copilot: { type: 'openai', keys: [], byok: false } } }, /providers\.copilot has no keys and byok is false/],
    ['no keys and bridge-wide byok false', { providers: { openai: { keys: [] } }, byok: false }, /providers\.openai has no keys and byok is false/],
    ['a bad byok', { providers: { openai: { keys: [SECRET] } }, byok: true }, /byok must be 'auto', false or a function/],
    ['a bad provider byok', { providers: { openai: { keys: [SECRET], byok: 'yes' } } }, /providers\.openai\.byok must be/],
    ['a bad keyOrder', { providers: { openai: { keys: [SECRET] } }, keyOrder: 'random' }, /keyOrder must be 'ordered' or 'round-robin', got "random"/],
    ['a bad provider keyOrder', { providers: { openai: { keys: [SECRET], keyOrder: 'lifo' } } }, /providers\.openai\.keyOrder must be/],
    ['bodyLimit 0', { providers: { openai: { keys: [SECRET] } }, bodyLimit: 0 }, /bodyLimit must be a positive number/],
    ['bodyLimit as a string', { providers: { openai: { keys: [SECRET] } }, bodyLimit: '10mb' }, /bodyLimit must be a positive number/],
    ['a negative timeout', { providers: { openai: { keys: [SECRET] } }, timeouts: { headersMs: -1 } }, /timeouts\.headersMs must be a positive number/],
    ['a NaN timeout', { providers: { openai: { keys: [SECRET] } }, timeouts: { connectMs: NaN } }, /timeouts\.connectMs must be a positive number/],
    ['an infinite rate-limit cooldown', { providers: { openai: { keys: [SECRET] } }, cooldowns: { rateLimitMs: Infinity } }, /cooldowns\.rateLimitMs must be a positive number/],
    ['a zero quota cooldown', { providers: { openai: { keys: [SECRET] } }, cooldowns: { quotaMs: 0 } }, /cooldowns\.quotaMs must be a positive number/],
    ['bodyLimit is in bytes', { providers: { openai: { keys: [SECRET] } }, bodyLimit: -1 }, /bodyLimit must be a positive number of bytes, got -1/],
    ['a number given as a string shows as a string', { providers: { openai: { keys: [SECRET] } }, bodyLimit: '100' }, /got "100"/],
    ['a timeout longer than a timer can wait', { providers: { openai: { keys: [SECRET] } }, timeouts: { headersMs: 2 ** 31 } }, /timeouts\.headersMs must be at most 2147483647 ms/],
    ['an idle timeout longer than a timer can wait', { providers: { openai: { keys: [SECRET] } }, timeouts: { bodyIdleMs: Number.MAX_SAFE_INTEGER } }, /timeouts\.bodyIdleMs must be at most/],
    ['an unknown option', { providers: { openai: { keys: [SECRET] } }, timeout: 5 }, /timeout is not an option \(did you mean timeouts\?\); known: providers, /],
    ['an unknown timeout', { providers: { openai: { keys: [SECRET] } }, timeouts: { headerMs: 5 } }, /timeouts\.headerMs is not an option; known: connectMs, headersMs, bodyIdleMs/],
    ['an unknown cooldown', { providers: { openai: { keys: [SECRET] } }, cooldowns: { rateLimit: 5 } }, /cooldowns\.rateLimit is not an option \(did you mean cooldowns\.rateLimitMs\?\)/],
    ['baseUrl for baseURL', { providers: { openai: { keys: [SECRET], baseUrl: 'http://127.0.0.1:1' } } }, /providers\.openai\.baseUrl is not an option \(did you mean providers\.openai\.baseURL\?\)/],
    ['key for keys', { providers: { openai: { key: SECRET } } }, /providers\.openai\.key is not an option \(did you mean providers\.openai\.keys\?\)/],
    ['timeouts not an object', { providers: { openai: { keys: [SECRET] } }, timeouts: 5 }, /timeouts must be an object, got 5/],
    ['onInterception not a function', { providers: { openai: { keys: [SECRET] } }, onInterception: 'log' }, /onInterception must be a function, got "log"/],
    ['a logger without its methods', { providers: { openai: { keys: [SECRET] } }, logger: {} }, /logger must have debug, info, warn, error methods; missing or not a function: debug, info, warn, error/],
    ['console.log as a logger', { providers: { openai: { keys: [SECRET] } }, logger: console.log }, /logger must be an object with debug, info, warn, error methods, got a function/],
    ['a store without its methods', { providers: { openai: { keys: [SECRET] } }, store: {} }, /store must have get, mark, clear methods/],
    ['a store ready that is not a function', { providers: { openai: { keys: [SECRET] } }, store: { get() {}, mark() {}, clear() {}, ready: 1 } }, /store\.ready must be a function when given/],
    ['a store close that is not a function', { providers: { openai: { keys: [SECRET] } }, store: { get() {}, mark() {}, clear() {}, close: true } }, /store\.close must be a function when given/],
    ['a key used as an option name is masked', { providers: { openai: { keys: ['k-aaaaaaaaaaaaaaaaaaaa'], [SECRET + '-and-more-to-be-long']: 1 } } }, /providers\.openai\.sk-l\.\.\.long is not an option/],
    ['a key used as a provider name is masked', { providers: { [SECRET + '-and-more-to-be-long']: { keys: ['k-aaaaaaaaaaaaaaaaaaaa'] } } }, /providers\.sk-l\.\.\.long\.type is required/],
    ['a key put in the wrong option is masked', { providers: { openai: { keys: ['k-aaaaaaaaaaaaaaaaaaaa'] } }, keyOrder: SECRET }, /keyOrder must be 'ordered' or 'round-robin', got a 37-character string \(sk-l\.\.\.cdef\)/],
  ]
  for (const [name, options, message] of cases) {
    test(name, () => {
      expect(rejection(options)).toMatch(message)
    })
  }

  test('providers named gemini and azure get those types; gemini has a default base URL, azure takes its own', () => {
    const { providers } = resolveOptions({
      providers: {
        gemini: { keys: [SECRET] },
        azure: { keys: [SECRET + '2'], baseURL: 'https://my-resource.openai.azure.com' },
        flash: { type: 'gemini', keys: [SECRET + '3'] },
        westeurope: { type: 'azure', keys: [SECRET + '4'], baseURL: 'https://my-we.openai.azure.com/openai/' },
      },
    })
    const summary = [...providers.values()].map((p) => [p.name, p.dialect.type, p.origin, p.basePath])
    expect(summary).toEqual([
      ['gemini', 'gemini', 'https://generativelanguage.googleapis.com', ''],
      ['azure', 'azure', 'https://my-resource.openai.azure.com', ''],
      ['flash', 'gemini', 'https://generativelanguage.googleapis.com', ''],
      ['westeurope', 'azure', 'https://my-we.openai.azure.com', '/openai'],
    ])
  })

  test('keys may bring their own base URL and headers; an azure pool whose every key has one needs no provider baseURL', () => {
    const { providers } = resolveOptions({
      providers: {
        azure: {
          keys: [
            { key: SECRET, baseURL: 'https://eastus.example.openai.azure.com/', headers: { 'X-Tenant': 'a' } },
            { key: SECRET + '2', baseURL: 'https://westeurope.example.openai.azure.com/gw/' },
          ],
        },
        openai: { keys: [SECRET + '3', { key: SECRET + '4', baseURL: 'https://api.openai.com' }, { key: SECRET + '5', headers: { 'OpenAI-Organization': 'org-b' } }] },
      },
    })
    const azure = providers.get('azure')!
    expect(azure.origin).toBeUndefined()
    expect(azure.keys).toEqual([
      { secret: SECRET, endpoint: { origin: 'https://eastus.example.openai.azure.com', basePath: '' }, headers: { 'x-tenant': 'a' } },
      { secret: SECRET + '2', endpoint: { origin: 'https://westeurope.example.openai.azure.com', basePath: '/gw' } },
    ])
    // A key at the provider's own endpoint takes the common path: no endpoint of its own.
    expect(providers.get('openai')!.keys).toEqual([{ secret: SECRET + '3' }, { secret: SECRET + '4' }, { secret: SECRET + '5', headers: { 'openai-organization': 'org-b' } }])
  })

  test('messages start with aibridge:', () => {
    expect(rejection({ providers: { openai: { keys: [''] } } })).toBe('aibridge: providers.openai.keys[0] is empty')
  })

  test('authRecheckMs may be Infinity (the default)', () => {
    h.own(createBridge({ providers: { openai: { keys: [SECRET] } }, cooldowns: { authRecheckMs: Infinity } }))
  })

  test('a base URL keeps its path prefix without a trailing slash', () => {
    // Accepted; the prefix behaviour is proven in routing.test.ts.
    h.own(createBridge({ providers: { groq: { type: 'openai', keys: [SECRET], baseURL: 'https://api.groq.com/openai/v1/' } } }))
  })
})
