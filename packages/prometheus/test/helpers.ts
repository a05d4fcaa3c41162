import { createServer } from 'node:http'
import { gzipSync } from 'node:zlib'
import { createBridge, type Bridge, type BridgeOptions, type InterceptionRecord } from '@aibridge/core'
import { Registry } from 'prom-client'
import type { Fixture } from '../../../test/support/fixture.js'
import { closeServer, listen, post } from '../../../test/support/http.js'
import {
  anthropicMessage,
  anthropicStreamEvents,
  byKey,
  json,
  openaiCompletion,
  openaiStreamEvents,
  rateLimited,
  sse,
  sseEvent,
  type Script,
} from '../../../test/support/upstream.js'
import { until } from '../../../test/support/wait.js'
import { prometheus, type PrometheusExporter } from '../src/index.js'

/** Keys long and distinctive enough that finding one anywhere means it leaked. */
export const testKey = (label: string): string => `sk-${label}-q7W3xR9vL2mN8pK4sT6uY-${label}`

export interface Running {
  bridge: Bridge
  url: string
  records: InterceptionRecord[]
  waitForRecords(n: number): Promise<void>
}

/** A bridge behind a plain node:http app, its records collected; closed after the test. */
export async function start(f: Fixture, options: BridgeOptions): Promise<Running> {
  const records: InterceptionRecord[] = []
  const bridge = f.own(createBridge({ ...options, onInterception: (r) => void records.push(r) }))
  const server = createServer((req, res) => void bridge.handle(req, res))
  const url = await listen(server)
  f.host({ close: () => closeServer(server) })
  return { bridge, url, records, waitForRecords: (n) => until(() => records.length >= n, 5000, () => `${n} records, got ${records.length}`) }
}

/** The samples of one metric in a scrape: `{ 'provider="a",state="valid"': 1 }` (suffixed names, such as `_count`, as given). */
export function series(scrape: string, name: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of scrape.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m && m[1] === name) out[m[2] ?? ''] = Number(m[3])
  }
  return out
}

export const KEYS = {
  anthropic: { rateLimited: testKey('pa429'), revoked: testKey('pa401'), good: testKey('pagood') },
  openai: { rateLimited: testKey('po429'), revoked: testKey('po401'), good: testKey('pogood') },
}

const revoked = (dialect: 'anthropic' | 'openai'): Script =>
  dialect === 'anthropic'
    ? json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } })
    : json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })

/** The usage the good keys' answers report (what the mock provider sends). */
export const SENT = {
  anthropicJson: { model: 'claude-sonnet-4-6', usage: { inputTokens: 12, outputTokens: 6, cacheReadTokens: null, cacheWriteTokens: null } },
  anthropicStream: { model: 'claude-sonnet-4-6', usage: { inputTokens: 12, outputTokens: 6, cacheReadTokens: null, cacheWriteTokens: null } },
  openaiJson: { model: 'gpt-4.1-2025-04-14', usage: { inputTokens: 19, outputTokens: 10, cacheReadTokens: null, cacheWriteTokens: null } },
  openaiStream: { model: 'gpt-4.1-2025-04-14', usage: { inputTokens: 9, outputTokens: 12, cacheReadTokens: 3, cacheWriteTokens: null } },
}

/** A Chat Completions stream that ends with the usage chunk `stream_options.include_usage` asks for. */
function openaiStreamWithUsage(): string[] {
  const events = openaiStreamEvents()
  const usageChunk = sseEvent(null, {
    id: 'chatcmpl-stream',
    object: 'chat.completion.chunk',
    created: 1741569952,
    model: 'gpt-4.1-2025-04-14',
    system_fingerprint: 'fp_3f58d112f7',
    choices: [],
    usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 } },
  })
  return [...events.slice(0, -1), usageChunk, events[events.length - 1]!]
}

/** The good key's answer: JSON (gzip-compressed when `gzip`) or a stream, as the request asked. */
function good(dialect: 'anthropic' | 'openai', gzip: boolean): Script {
  return (seen, res, req) => {
    const stream = (JSON.parse(seen.body.toString('utf8')) as { stream?: boolean }).stream === true
    if (stream) return sse(dialect === 'anthropic' ? anthropicStreamEvents() : openaiStreamWithUsage())(seen, res, req)
    const body = Buffer.from(JSON.stringify(dialect === 'anthropic' ? anthropicMessage() : openaiCompletion()))
    const encoded = gzip ? gzipSync(body) : body
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': encoded.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) }).end(encoded)
  }
}

export interface Scenario {
  b: Running
  registry: Registry
  exporter: PrometheusExporter
  scrape(): Promise<string>
}

/**
 * A bridge with three keys per provider (one answers 429 with Retry-After: 60, one 401, one serves)
 * and the exporter on a fresh registry; then, per provider, a non-streaming call (which walks all
 * three keys), a streaming call and a gzip-compressed non-streaming call (both served at once by the
 * good key).
 */
export async function scriptedFaults(f: Fixture): Promise<Scenario> {
  const { anthropic: A, openai: O } = KEYS
  const b = await start(f, {
    providers: {
      anthropic: { keys: [A.rateLimited, A.revoked, A.good], baseURL: f.up.url },
      openai: { keys: [O.rateLimited, O.revoked, O.good], baseURL: f.up.url },
    },
  })
  const registry = new Registry()
  const exporter = prometheus(b.bridge, { registry })
  let gzip = false
  f.up.handle((seen, res, req) =>
    byKey({
      [A.rateLimited]: rateLimited({ 'retry-after': '60' }, 'anthropic'),
      [A.revoked]: revoked('anthropic'),
      [A.good]: good('anthropic', gzip),
      [O.rateLimited]: rateLimited({ 'retry-after': '60' }, 'openai'),
      [O.revoked]: revoked('openai'),
      [O.good]: good('openai', gzip),
    })(seen, res, req),
  )
  const anthropicBody = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }
  const openaiBody = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'Hi' }] }
  await post(b.url, '/anthropic/v1/messages', anthropicBody)
  await post(b.url, '/anthropic/v1/messages', { ...anthropicBody, stream: true })
  await post(b.url, '/openai/v1/chat/completions', openaiBody)
  await post(b.url, '/openai/v1/chat/completions', { ...openaiBody, stream: true, stream_options: { include_usage: true } })
  gzip = true
  await post(b.url, '/anthropic/v1/messages', anthropicBody, { 'accept-encoding': 'gzip' })
  await post(b.url, '/openai/v1/chat/completions', openaiBody, { 'accept-encoding': 'gzip' })
  await b.waitForRecords(6)
  return { b, registry, exporter, scrape: () => registry.metrics() }
}
