import { request } from 'node:http'
import { expect, test } from 'vitest'
import { raw, type RawResponse } from '../../../test/support/http.js'
import { byKey, hang, json, openaiStreamEvents, providerAnswer, rateLimited, reset, type Script } from '../../../test/support/upstream.js'
import { sleep } from '../../../test/support/wait.js'
import { AibridgeOptionError, createBridge, maskKey, type BridgeOptions } from '../src/index.js'
import { harness } from './helpers/harness.js'

const h = harness()

// Distinctive keys: the middle part is never in a hint, so finding it anywhere means a leak.
const CANARY = 'LEAKCANARY'
const key = (n: number): string => `sk-proj-${CANARY}${n}-Xq93mZp1Lk77Rt55Vw22-end${n}`
const A = [key(1), key(2), key(3)]
const O = [key(4), key(5), key(6)]
const CLIENT = `sk-client-${CANARY}-byok-credential-999`
const SECRETS = [...A, ...O, CLIENT]

const auth401: Script = json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })
const quota: Script = json(429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } })
const credit: Script = json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } })

test('no key appears in any response, record, log line, key state or error message', async () => {
  const seen: string[] = []
  const collect = (r: RawResponse): RawResponse => {
    seen.push(JSON.stringify(r.headers), r.text)
    return r
  }
  const b = await h.start({
    providers: {
      anthropic: { keys: A, baseURL: h.up.url },
      openai: { keys: O, baseURL: `${h.up.url}/v1` },
      copilot: { type: 'openai', baseURL: h.up.url, keys: [] },
    },
    timeouts: { headersMs: 100, bodyIdleMs: 100 },
  })
  // Records through a sink that also throws now and then, so that error path is logged too.
  let n = 0
  const records: string[] = []
  const withSink = await h.start(
    {
      providers: { openai: { keys: O, baseURL: h.up.url } },
      onInterception: (r) => {
        records.push(JSON.stringify(r))
        if (n++ % 2 === 0) throw new Error(`sink failed for ${r.credentialHint}`)
      },
    },
  )
  const post = (base: string, path: string, headers: Record<string, string> = {}) =>
    raw(base, path, { method: 'POST', body: '{"model":"m","stream":true}', headers: { 'content-type': 'application/json', ...headers } }).then(collect)

  // Served, failover through every failure class, and exhaustion.
  h.up.handle(providerAnswer())
  await post(b.url, '/anthropic/v1/messages')
  await post(b.url, '/openai/chat/completions')
  h.up.handle(byKey({ [A[0]!]: rateLimited({ 'retry-after': '30' }, 'anthropic'), [A[1]!]: credit, [A[2]!]: providerAnswer() }))
  await post(b.url, '/anthropic/v1/messages')
  h.up.handle(byKey({ [O[0]!]: auth401, [O[1]!]: quota, [O[2]!]: rateLimited({ 'x-ratelimit-reset-requests': '20s' }) }))
  await post(b.url, '/openai/chat/completions')
  await post(b.url, '/openai/chat/completions')
  await post(b.url, '/anthropic/v1/messages')
  h.up.handle(rateLimited({}, 'anthropic'))
  await post(b.url, '/anthropic/v1/messages')
  b.bridge.resetKey('openai', maskKey(O[0]!))
  h.up.handle(auth401)
  await post(b.url, '/openai/chat/completions')

  // BYOK, BYOK-only without a credential, byok pass-through errors.
  b.bridge.resetKey('openai', maskKey(O[0]!))
  b.bridge.resetKey('openai', maskKey(O[1]!))
  b.bridge.resetKey('openai', maskKey(O[2]!))
  h.up.handle(rateLimited({ 'retry-after': '3' }))
  await post(b.url, '/openai/chat/completions', { authorization: `Bearer ${CLIENT}` })
  await post(b.url, '/copilot/chat/completions')
  h.up.handle(providerAnswer())
  await post(b.url, '/copilot/chat/completions', { authorization: `Bearer ${CLIENT}` })
  await post(b.url, '/anthropic/v1/messages', { 'x-api-key': CLIENT })

  // Refusals, transport failures, timeouts.
  await raw(b.url, '/openai/%2e%2e/admin').then(collect)
  await raw(b.url, '/openai/v1/x', { method: 'POST', body: Buffer.alloc(10), headers: { 'content-length': String(64 * 1024 * 1024) } }).catch(() => undefined)
  h.up.handle(reset)
  await post(b.url, '/openai/chat/completions')
  h.up.handle(hang)
  await post(b.url, '/openai/chat/completions')
  h.up.handle(json(500, { error: { message: 'upstream broke', type: 'server_error', param: null, code: null } }))
  await post(b.url, '/openai/chat/completions')

  // Mid-stream deaths (SSE and not) and a client that leaves.
  h.up.handle(async (_s, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(openaiStreamEvents('x')[0])
    await sleep(10)
    res.socket?.destroy()
  })
  await post(b.url, '/openai/chat/completions')
  h.up.handle(async (_s, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 })
    res.write('{"partial":')
    await sleep(10)
    res.socket?.destroy()
  })
  await post(b.url, '/openai/chat/completions').catch(() => undefined)
  h.up.handle(hang)
  await new Promise<void>((resolve) => {
    const { port } = new URL(b.url)
    const req = request({ host: '127.0.0.1', port, path: '/openai/chat/completions', method: 'POST', agent: false })
    req.on('error', () => {})
    req.end('{}')
    void h.up.waitFor(h.up.requests.length + 1).then(() => {
      req.destroy()
      resolve()
    })
  })

  // The throwing sink.
  h.up.handle(byKey({ [O[0]!]: rateLimited({ 'retry-after': '1' }), '*': providerAnswer() }))
  await post(withSink.url, '/openai/v1/chat/completions')
  await post(withSink.url, '/openai/v1/chat/completions')
  await sleep(100)

  // Option errors and resetKey errors.
  const errors: string[] = []
  for (const options of [
    { providers: { openai: { keys: [O[0], O[0]] } } },
    { providers: { openai: { keys: [`${O[0]} trailing-part`] } } },
    { providers: { openai: { keys: [O[0]], baseURL: `https://user:${O[1]}@example.com` } } },
    { providers: { openai: { keys: [O[0]], baseURL: `https://example.com/?key=${O[1]}` } } },
    { providers: { openai: { keys: [O[0]], baseURL: `${O[1]}` } } },
  ]) {
    try {
      h.own(createBridge(options as BridgeOptions))
    } catch (err) {
      expect(err).toBeInstanceOf(AibridgeOptionError)
      errors.push(String((err as Error).message), String((err as Error).stack))
    }
  }
  for (const hint of [maskKey(O[0]!), 'nope']) {
    try {
      b.bridge.resetKey('openai', hint === 'nope' ? hint : O[0]!)
    } catch (err) {
      errors.push(String((err as Error).message))
    }
  }
  expect(errors.length).toBeGreaterThanOrEqual(11)

  await b.waitForRecords(20)
  await withSink.waitForRecords(0)
  const states = JSON.stringify(b.bridge.keyStates()) + JSON.stringify(withSink.bridge.keyStates())
  const haystacks: Record<string, string> = {
    responses: seen.join('\n'),
    records: b.records.map((r) => JSON.stringify(r)).join('\n') + records.join('\n'),
    logs: [...b.logs, ...withSink.logs].join(''),
    states,
    errors: errors.join('\n'),
  }
  // The scan is meaningful only if it saw a lot.
  expect(seen.length).toBeGreaterThan(30)
  expect(b.logs.length).toBeGreaterThan(5)
  expect(withSink.logs.some((l) => l.includes('onInterception threw'))).toBe(true)
  expect(haystacks.records).toContain(maskKey(A[0]!))
  for (const [where, text] of Object.entries(haystacks)) {
    for (const secret of SECRETS) expect(text.includes(secret), `${where} holds a key`).toBe(false)
    expect(text.includes(CANARY), `${where} holds part of a key`).toBe(false)
  }
  for (const s of [...b.bridge.keyStates().anthropic!, ...b.bridge.keyStates().openai!]) {
    expect(SECRETS).not.toContain(s.hint)
    expect(SECRETS).not.toContain(s.id)
  }
  // The keys did reach the upstream: the test exercised them.
  const used = new Set(h.up.requests.map((s) => s.key))
  for (const k of [...A, ...O, CLIENT]) expect(used.has(k), maskKey(k)).toBe(true)
})
