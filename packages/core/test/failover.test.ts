import { deflateRawSync, gzipSync } from 'node:zlib'
import { describe, expect, test, vi } from 'vitest'
import { post } from '../../../test/support/http.js'
import { byKey, json, rateLimited, text, type Script } from '../../../test/support/upstream.js'
import { sleep, within } from '../../../test/support/wait.js'
import { testKey } from './helpers/bridge.js'
import { harness } from './helpers/harness.js'
import { recordingStore } from './helpers/store.js'

const h = harness()
const K1 = testKey('fo1')
const K2 = testKey('fo2')
const K3 = testKey('fo3')

const anthropicError = (type: string, message: string) => ({ type: 'error', error: { type, message } })
const openaiError = (message: string, type: string, code: string | null) => ({ error: { message, type, param: null, code } })

async function openaiBridge(extra: { quotaMs?: number; authRecheckMs?: number } = {}) {
  const store = recordingStore()
  const b = await h.start({ providers: { openai: { keys: [K1, K2, K3], baseURL: h.up.url } }, store, cooldowns: extra })
  return { b, store }
}

async function anthropicBridge(extra: { quotaMs?: number } = {}) {
  const store = recordingStore()
  const b = await h.start({ providers: { anthropic: { keys: [K1, K2, K3], baseURL: h.up.url } }, store, cooldowns: extra })
  return { b, store }
}

const served: Script = (seen, res) => json(200, { served: seen.key === K2 ? 'K2' : seen.key === K3 ? 'K3' : 'K1' })(seen, res, undefined as never)

describe('a 429 takes the key out for a while and the next key serves', () => {
  test('openai: first key 429, second key answers the client', async () => {
    const { b } = await openaiBridge()
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }), '*': served }))
    const r = await post(b.url, '/openai/v1/chat/completions', { model: 'gpt' })
    expect(r.status).toBe(200)
    expect(r.json()).toEqual({ served: 'K2' })
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    const [k1, k2, k3] = b.bridge.keyStates().openai!
    expect(k1).toMatchObject({ state: 'temporary', reason: 'rate_limited', status: 429 })
    expect(k2!.state).toBe('valid')
    expect(k3!.state).toBe('valid')

    // While the primary cools, requests go straight to the next key: no wasted upstream call.
    const again = await post(b.url, '/openai/v1/chat/completions', { model: 'gpt' })
    expect(again.json()).toEqual({ served: 'K2' })
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K2])
  })

  test('anthropic: first key 429, second key answers the client', async () => {
    const { b } = await anthropicBridge()
    h.up.handle(byKey({ [K1]: rateLimited({ 'retry-after': '30' }, 'anthropic'), '*': served }))
    const r = await post(b.url, '/anthropic/v1/messages', { model: 'claude' })
    expect(r.status).toBe(200)
    expect(r.json()).toEqual({ served: 'K2' })
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2])
    expect(b.bridge.keyStates().anthropic![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
  })

  test('a cooldown ends by itself: the primary serves again once it has passed', async () => {
    // A fake clock (Date only: sockets and timers stay real), so no test sleeps through a cooldown.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const { b } = await openaiBridge()
      h.up.queue(rateLimited({ 'retry-after-ms': '30000' }))
      h.up.handle(served)
      expect((await post(b.url, '/openai/v1/x', {})).json()).toEqual({ served: 'K2' })
      expect(b.bridge.keyStates().openai![0]!.state).toBe('temporary')
      vi.setSystemTime(Date.now() + 29_999)
      expect(b.bridge.keyStates().openai![0]!.state).toBe('temporary')
      vi.setSystemTime(Date.now() + 2)
      expect(b.bridge.keyStates().openai![0]!.state).toBe('valid')
      expect((await post(b.url, '/openai/v1/x', {})).json()).toEqual({ served: 'K1' })
    } finally {
      vi.useRealTimers()
    }
  })

  test('a 429 error body larger than the classification window still fails over', async () => {
    const { b } = await openaiBridge()
    const big = openaiError('x'.repeat(200_000), 'requests', 'rate_limit_exceeded')
    h.up.handle(byKey({ [K1]: json(429, big), '*': served }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().openai![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
  })

  // Written slowly in 16 KiB pieces: the classification stops listening partway through, and the rest
  // must be thrown away without an unhandled error (vitest fails the run on one).
  const slowHugeError = (status: number, body: unknown): Script => async (_seen, res) => {
    const bytes = Buffer.from(JSON.stringify(body))
    res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '30' })
    for (let i = 0; i < bytes.length && !res.destroyed; i += 16 * 1024) {
      res.write(bytes.subarray(i, i + 16 * 1024))
      await sleep(1)
    }
    res.end()
  }
  for (const [provider, status, body] of [
    ['openai', 401, openaiError('y'.repeat(300_000), 'invalid_request_error', 'invalid_api_key')],
    ['openai', 429, openaiError('y'.repeat(300_000), 'requests', 'rate_limit_exceeded')],
    ['anthropic', 429, anthropicError('rate_limit_error', 'y'.repeat(300_000))],
  ] as const) {
    test(`${provider} ${status} with a 300 KB error body trickling in: fails over, the rest is discarded`, async () => {
      const { b } = provider === 'openai' ? await openaiBridge() : await anthropicBridge()
      h.up.handle(byKey({ [K1]: slowHugeError(status, body), '*': served }))
      const path = provider === 'openai' ? '/openai/v1/chat/completions' : '/anthropic/v1/messages'
      const r = await post(b.url, path, {})
      expect(r.json()).toEqual({ served: 'K2' })
      expect(b.bridge.keyStates()[provider]![0]!.state).toBe(status === 429 ? 'temporary' : 'permanent')
      // The discarded answer's connection is closed, not left hanging.
      expect(await within(h.up.requests[0]!.closed, 2000, 'the discarded answer to close')).toBeGreaterThan(0)
      // Every key answering that way: exhaustion, still without an unhandled error.
      h.up.handle(slowHugeError(status, body))
      const all = await post(b.url, path, {})
      expect(all.status).toBe(status === 429 ? 429 : 502)
    })
  }

  test('every key is tried at most once per request', async () => {
    const { b } = await openaiBridge()
    h.up.handle(rateLimited({ 'retry-after': '1' }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.status).toBe(429)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K3])
  })
})

describe('401 and 403 take the key out permanently', () => {
  for (const status of [401, 403]) {
    test(`openai ${status}: permanent until reset, next key serves`, async () => {
      const { b } = await openaiBridge()
      h.up.handle(byKey({ [K1]: json(status, openaiError('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key')), '*': served }))
      const r = await post(b.url, '/openai/v1/x', {})
      expect(r.json()).toEqual({ served: 'K2' })
      const k1 = b.bridge.keyStates().openai![0]!
      expect(k1).toMatchObject({ state: 'permanent', reason: 'auth_failed', status })
      expect(k1.until).toBeUndefined()
    })

    test(`anthropic ${status}: permanent, next key serves`, async () => {
      const { b } = await anthropicBridge()
      h.up.handle(byKey({ [K1]: json(status, anthropicError('authentication_error', 'invalid x-api-key')), '*': served }))
      const r = await post(b.url, '/anthropic/v1/messages', {})
      expect(r.json()).toEqual({ served: 'K2' })
      expect(b.bridge.keyStates().anthropic![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed', status })
    })
  }

  // OpenAI blames the request, not the key: every key would answer the same, so failing over would
  // take the whole pool out for every client because of one client's header (or the host's region).
  for (const [status, error, headers] of [
    [401, openaiError('OpenAI-Organization header should match organization for API key', 'invalid_request_error', 'mismatched_organization'), { 'openai-organization': 'org-personal' }],
    [401, openaiError('OpenAI-Project header should match project for API key', 'invalid_request_error', 'mismatched_project'), { 'openai-project': 'proj_other' }],
    [401, openaiError('No such organization: org-typo.', 'invalid_request_error', 'invalid_organization'), { 'openai-organization': 'org-typo' }],
    [403, openaiError('Country, region, or territory not supported', 'request_forbidden', 'unsupported_country_region_territory'), {}],
  ] as const) {
    test(`openai ${status} ${error.error.code}: passed to the client as it is, one attempt, no key marked`, async () => {
      const { b, store } = await openaiBridge()
      h.up.handle(json(status, error))
      const r = await post(b.url, '/openai/v1/chat/completions', { model: 'gpt' }, headers)
      expect(r.status).toBe(status)
      expect(r.json()).toEqual(error)
      expect(h.up.requests.map((s) => s.key)).toEqual([K1])
      expect(h.up.requests[0]!.headers).toMatchObject(headers)
      expect(b.bridge.keyStates().openai!.map((k) => k.state)).toEqual(['valid', 'valid', 'valid'])
      expect(store.marks).toHaveLength(0)
      const [record] = await b.waitForRecords(1)
      expect(record).toMatchObject({ outcome: 'upstream_error', status, attempts: 1, credentialHint: b.bridge.keyStates().openai![0]!.hint })
      // The pool still serves everyone else.
      h.up.handle(served)
      expect((await post(b.url, '/openai/v1/chat/completions', { model: 'gpt' })).json()).toEqual({ served: 'K1' })
    })
  }

  test('openai 401 no_organization is the key\'s fault (its account left the organization): key out, next key serves', async () => {
    const { b } = await openaiBridge()
    const error = openaiError('You must be a member of an organization to use the API. Please contact us through our help center at help.openai.com.', 'invalid_request_error', 'no_organization')
    h.up.handle(byKey({ [K1]: json(401, error), '*': served }))
    const r = await post(b.url, '/openai/v1/chat/completions', { model: 'gpt' })
    expect(r.json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().openai![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed', status: 401 })
  })

  test('openai 401 without a body that blames the request still takes the key out', async () => {
    const { b } = await openaiBridge()
    h.up.handle(byKey({ [K1]: text(401, 'Unauthorized'), '*': served }))
    const r = await post(b.url, '/openai/v1/x', {}, { 'openai-organization': 'org-1' })
    expect(r.json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().openai![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed' })
  })

  test('a permanent key stays out across requests, until resetKey by hint', async () => {
    const { b } = await openaiBridge()
    h.up.queue(json(401, openaiError('bad key', 'invalid_request_error', 'invalid_api_key')))
    h.up.handle(served)
    await post(b.url, '/openai/v1/x', {})
    await post(b.url, '/openai/v1/x', {})
    expect(h.up.requests.map((s) => s.key)).toEqual([K1, K2, K2])
    b.bridge.resetKey('openai', b.bridge.keyStates().openai![0]!.hint)
    expect(b.bridge.keyStates().openai![0]!.state).toBe('valid')
    expect((await post(b.url, '/openai/v1/x', {})).json()).toEqual({ served: 'K1' })
  })

  test('resetKey by id works the same', async () => {
    const { b } = await openaiBridge()
    h.up.queue(json(403, openaiError('forbidden', 'invalid_request_error', null)))
    h.up.handle(served)
    await post(b.url, '/openai/v1/x', {})
    const id = b.bridge.keyStates().openai![0]!.id
    b.bridge.resetKey('openai', id)
    expect((await post(b.url, '/openai/v1/x', {})).json()).toEqual({ served: 'K1' })
  })

  test('cooldowns.authRecheckMs: the key is tried again after the interval', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const { b, store } = await openaiBridge({ authRecheckMs: 600_000 })
      h.up.queue(json(401, openaiError('bad key', 'invalid_request_error', 'invalid_api_key')))
      h.up.handle(served)
      await post(b.url, '/openai/v1/x', {})
      const k1 = b.bridge.keyStates().openai![0]!
      expect(k1.state).toBe('permanent')
      expect(k1.until).toBeTypeOf('number')
      expect(store.marks[0]!.cooldownMs).toBe(600_000)
      vi.setSystemTime(Date.now() + 600_001)
      expect(b.bridge.keyStates().openai![0]!.state).toBe('valid')
      expect((await post(b.url, '/openai/v1/x', {})).json()).toEqual({ served: 'K1' })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('exhausted billing or quota takes the key out for the long cooldown', () => {
  const cases: Array<{ name: string; provider: 'openai' | 'anthropic'; script: Script }> = [
    {
      name: 'openai 429 insufficient_quota',
      provider: 'openai',
      script: json(429, openaiError('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota'), {
        'retry-after': '2',
      }),
    },
    { name: 'openai 402', provider: 'openai', script: json(402, openaiError('Payment required', 'billing_error', null)) },
    { name: 'anthropic 402', provider: 'anthropic', script: json(402, anthropicError('billing_error', 'Payment required')) },
    {
      name: 'anthropic 400 credit balance too low',
      provider: 'anthropic',
      script: json(
        400,
        anthropicError(
          'invalid_request_error',
          'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
        ),
      ),
    },
    {
      name: 'openai 429 insufficient_quota, gzip-encoded body',
      provider: 'openai',
      script: (_seen, res) => {
        const body = gzipSync(JSON.stringify(openaiError('You exceeded your current quota', 'insufficient_quota', 'insufficient_quota')))
        res.writeHead(429, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length }).end(body)
      },
    },
  ]
  for (const c of cases) {
    test(`${c.name}: temporary with the 1 h default, next key serves`, async () => {
      const { b, store } = c.provider === 'openai' ? await openaiBridge() : await anthropicBridge()
      h.up.handle(byKey({ [K1]: c.script, '*': served }))
      const r = await post(b.url, c.provider === 'openai' ? '/openai/v1/x' : '/anthropic/v1/messages', {})
      expect(r.json()).toEqual({ served: 'K2' })
      const k1 = b.bridge.keyStates()[c.provider]![0]!
      expect(k1).toMatchObject({ state: 'temporary', reason: 'quota_exhausted' })
      expect(store.marks).toHaveLength(1)
      expect(store.marks[0]!.cooldownMs).toBe(3_600_000)
    })
  }

  test('cooldowns.quotaMs sets the quota cooldown', async () => {
    const { b, store } = await openaiBridge({ quotaMs: 5_000 })
    h.up.handle(byKey({ [K1]: json(402, openaiError('Payment required', 'billing_error', null)), '*': served }))
    await post(b.url, '/openai/v1/x', {})
    expect(store.marks[0]!.cooldownMs).toBe(5_000)
  })
})

describe('any other status goes to the client untouched and marks nothing', () => {
  const statuses = [400, 404, 409, 413, 422, 500, 502, 503, 529]
  for (const provider of ['openai', 'anthropic'] as const) {
    for (const status of statuses) {
      test(`${provider} ${status}`, async () => {
        const { b, store } = provider === 'openai' ? await openaiBridge() : await anthropicBridge()
        const body =
          provider === 'openai'
            ? JSON.stringify(openaiError(`upstream said ${status}`, 'invalid_request_error', null))
            : JSON.stringify(anthropicError(status === 529 ? 'overloaded_error' : 'invalid_request_error', `upstream said ${status}`))
        h.up.handle(text(status, body, { 'content-type': 'application/json', 'x-upstream-marker': `m${status}` }))
        const r = await post(b.url, provider === 'openai' ? '/openai/v1/x' : '/anthropic/v1/messages', {})
        expect(r.status).toBe(status)
        expect(r.text).toBe(body)
        expect(r.headers['x-upstream-marker']).toBe(`m${status}`)
        expect(h.up.requests).toHaveLength(1)
        expect(store.marks).toHaveLength(0)
        expect(b.bridge.keyStates()[provider]!.every((k) => k.state === 'valid')).toBe(true)
        const [record] = await b.waitForRecords(1)
        expect(record).toMatchObject({ status, outcome: 'upstream_error', attempts: 1 })
      })
    }
  }

  test('anthropic 400 larger than the classification window reaches the client byte for byte', async () => {
    const { b, store } = await anthropicBridge()
    const body = Buffer.from(JSON.stringify(anthropicError('invalid_request_error', 'y'.repeat(300_000))))
    h.up.handle((_s, res) => {
      // Chunked, in pieces, so the classifier stops reading mid-body.
      res.writeHead(400, { 'content-type': 'application/json' })
      for (let i = 0; i < body.length; i += 10_000) res.write(body.subarray(i, i + 10_000))
      res.end()
    })
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(400)
    expect(r.body.equals(body)).toBe(true)
    expect(store.marks).toHaveLength(0)
  })

  test('a chunked anthropic 400 read whole while classifying still ends the response', async () => {
    const { b } = await anthropicBridge()
    const body = JSON.stringify(anthropicError('invalid_request_error', 'messages: field required'))
    h.up.handle((_s, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.write(body.slice(0, 10))
      res.end(body.slice(10))
    })
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(400)
    expect(r.text).toBe(body)
    const [record] = await b.waitForRecords(1)
    expect(record!.outcome).toBe('upstream_error')
  })
})

describe('an error answer the bridge must read to classify', () => {
  const mismatched = openaiError('OpenAI-Organization header should match organization for API key', 'invalid_request_error', 'mismatched_organization')

  test('a client accepting zstd still gets a request-blaming 401 classified: one attempt, no key out', async () => {
    const { b } = await openaiBridge()
    // Answers in the client's first choice; zstd cannot be produced here, so it stands for any coding
    // aibridge could not read.
    h.up.handle((seen, res) => {
      const choice = String(seen.headers['accept-encoding'] ?? '').split(',')[0]!.trim()
      const body = Buffer.from(JSON.stringify(mismatched))
      if (choice === 'zstd') res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': 'zstd' }).end(Buffer.from('not really zstd'))
      else res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(body))
    })
    const r = await post(b.url, '/openai/v1/chat/completions', {}, { 'accept-encoding': 'gzip, br', 'openai-organization': 'org-x' })
    expect(r.status).toBe(401)
    expect(h.up.requests.map((s) => s.key)).toEqual([K1])
    expect(b.bridge.keyStates().openai!.map((k) => k.state)).toEqual(['valid', 'valid', 'valid'])
    const zstdFirst = await post(b.url, '/openai/v1/chat/completions', {}, { 'accept-encoding': 'zstd, gzip', 'openai-organization': 'org-x' })
    expect(zstdFirst.status).toBe(401)
    expect(b.bridge.keyStates().openai!.map((k) => k.state)).toEqual(['valid', 'valid', 'valid'])
  })

  test("a 'deflate' body without its zlib wrapper (raw deflate) is read too", async () => {
    const { b } = await openaiBridge()
    const quota = openaiError('You exceeded your current quota', 'insufficient_quota', 'insufficient_quota')
    h.up.handle(byKey({ [K1]: (_s, res) => void res.writeHead(429, { 'content-type': 'application/json', 'content-encoding': 'deflate' }).end(deflateRawSync(JSON.stringify(quota))), '*': served }))
    const r = await post(b.url, '/openai/v1/x', {}, { 'accept-encoding': 'deflate' })
    expect(r.json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().openai![0]).toMatchObject({ state: 'temporary', reason: 'quota_exhausted' })
  })

  test('a compressed error body that inflates past 1 MiB is not read (no decompression bomb): its status decides', async () => {
    const { b } = await openaiBridge()
    // 32 MiB of whitespace, then a quota error: about 32 KiB gzipped, well inside the 64 KiB read.
    const bomb = gzipSync(Buffer.concat([Buffer.alloc(32 * 1024 * 1024, 0x20), Buffer.from(JSON.stringify(openaiError('quota', 'insufficient_quota', 'insufficient_quota')))]))
    expect(bomb.length).toBeLessThan(64 * 1024)
    h.up.handle(byKey({ [K1]: (_s, res) => void res.writeHead(429, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'retry-after': '20' }).end(bomb), '*': served }))
    const r = await post(b.url, '/openai/v1/x', {}, { 'accept-encoding': 'gzip' })
    expect(r.json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().openai![0]).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
  })

  // The status line and headers arrived, then the connection broke: the status still says the key is out.
  const headThenDie =
    (status: number, headers: Record<string, string>, part: string): Script =>
    async (_seen, res) => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': '5000', ...headers })
      res.write(part)
      await sleep(10)
      res.socket?.destroy()
    }

  test('a 429 whose body breaks off: the key cools for the Retry-After it sent, the next key serves', async () => {
    const { b } = await openaiBridge()
    h.up.handle(byKey({ [K1]: headThenDie(429, { 'retry-after': '20' }, '{"error":{"mess'), '*': served }))
    const r = await post(b.url, '/openai/v1/x', {})
    expect(r.json()).toEqual({ served: 'K2' })
    const k1 = b.bridge.keyStates().openai![0]!
    expect(k1).toMatchObject({ state: 'temporary', reason: 'rate_limited' })
    expect(k1.until! - Date.now()).toBeGreaterThan(18_000)
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'ok', attempts: 2 })
  })

  test('an anthropic 401 whose body breaks off: the key is out, the next key serves', async () => {
    const { b } = await anthropicBridge()
    h.up.handle(byKey({ [K1]: headThenDie(401, {}, '{"type":"error","err'), '*': served }))
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.json()).toEqual({ served: 'K2' })
    expect(b.bridge.keyStates().anthropic![0]).toMatchObject({ state: 'permanent', reason: 'auth_failed' })
  })

  test('an anthropic 400 whose body breaks off (not a key failure): 502 saying so, nothing marked', async () => {
    const { b } = await anthropicBridge()
    h.up.handle(headThenDie(400, {}, '{"type":"error","err'))
    const r = await post(b.url, '/anthropic/v1/messages', {})
    expect(r.status).toBe(502)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining("the provider's error response broke off") } })
    expect(h.up.requests).toHaveLength(1)
    expect(b.bridge.keyStates().anthropic!.map((k) => k.state)).toEqual(['valid', 'valid', 'valid'])
    const [record] = await b.waitForRecords(1)
    expect(record).toMatchObject({ outcome: 'transport_error', status: 502, attempts: 1 })
  })
})
