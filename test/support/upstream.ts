/** A scripted stand-in for a provider, shared by every package's tests: it records what it received and answers as each test scripts. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import { expect } from 'vitest'
import { closeServer, listen } from './http.js'
import { within } from './wait.js'

/** What the scripted upstream received for one request. */
export interface Seen {
  method: string
  /** The request target exactly as it arrived (path and query). */
  url: string
  headers: IncomingHttpHeaders
  /** The raw body bytes. */
  body: Buffer
  /** The credential it carried: `x-api-key`, `x-goog-api-key` or `api-key`, else the token of `Authorization: Bearer`. */
  key: string | undefined
  /** Epoch ms when the request (headers and body) had fully arrived. */
  arrivedAt: number
  /** True when the connection closed before the response was finished. */
  aborted: boolean
  /** Resolves with the epoch ms at which the exchange closed (finished or aborted). */
  closed: Promise<number>
}

/** How the upstream answers one request. It may hold the response open as long as it likes. */
export type Script = (seen: Seen, res: ServerResponse, req: IncomingMessage) => void | Promise<void>

export interface Upstream {
  /** `http://127.0.0.1:PORT`. */
  url: string
  requests: Seen[]
  /** The script for every request not taken by `queue`. Default: the one given to `startUpstream`. */
  handle(script: Script): void
  /** Scripts for the next requests, one each, in arrival order. */
  queue(...scripts: Script[]): void
  /** Resolves once `n` requests have arrived in total. */
  waitFor(n: number, timeoutMs?: number): Promise<Seen[]>
  /** Closes every open exchange, held ones included, and stops listening. */
  close(): Promise<void>
}

function credentialOf(headers: IncomingHttpHeaders): string | undefined {
  for (const name of ['x-api-key', 'x-goog-api-key', 'api-key']) {
    const apiKey = headers[name]
    if (typeof apiKey === 'string' && apiKey !== '') return apiKey
  }
  const auth = headers.authorization
  const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null
  return m ? m[1] : undefined
}

/** A node:http server on 127.0.0.1:0 whose answer to each request the test scripts. */
export async function startUpstream(fallback: Script = json(200, { ok: true })): Promise<Upstream> {
  const requests: Seen[] = []
  const queued: Script[] = []
  const waiters: Array<() => void> = []

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let resolveClosed!: (at: number) => void
      const seen: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        key: credentialOf(req.headers),
        arrivedAt: Date.now(),
        aborted: false,
        closed: new Promise((r) => (resolveClosed = r)),
      }
      res.on('close', () => {
        if (!res.writableFinished) seen.aborted = true
        resolveClosed(Date.now())
      })
      // A write to a destroyed socket is the test's business, not an unhandled error.
      res.on('error', () => {})
      requests.push(seen)
      for (const w of waiters.splice(0)) w()
      const script = queued.shift() ?? fallback
      Promise.resolve(script(seen, res, req)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(599).end(String(err))
        else res.destroy()
      })
    })
  })
  server.keepAliveTimeout = 60_000
  const url = await listen(server)

  return {
    url,
    requests,
    handle(script) {
      fallback = script
    },
    queue(...scripts) {
      queued.push(...scripts)
    },
    async waitFor(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      while (requests.length < n) {
        if (Date.now() > deadline) throw new Error(`upstream saw ${requests.length} requests, expected ${n}`)
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer)
            const i = waiters.indexOf(done)
            if (i !== -1) waiters.splice(i, 1)
            resolve()
          }
          const timer = setTimeout(done, 50)
          waiters.push(done)
        })
      }
      return requests
    },
    close: () => closeServer(server),
  }
}

/** Runs `leave` (the client going away) and expects the upstream exchange `seen` aborted, not finished, within a second. */
export async function expectAbortedBy(seen: Seen, leave: () => void): Promise<void> {
  const leftAt = Date.now()
  leave()
  const closedAt = await within(seen.closed, 1000, 'abort seen by the upstream')
  expect(seen.aborted).toBe(true)
  expect(closedAt - leftAt).toBeLessThan(1000)
}

// ---- Scripts -------------------------------------------------------------------------------

/** Any status, headers and body, sent exactly as given (no content-type or length added). */
export function verbatim(status: number, headers: OutgoingHttpHeaders, body?: string | Buffer): Script {
  return (_seen, res) => {
    res.writeHead(status, headers).end(body)
  }
}

export function json(status: number, body: unknown, headers: Record<string, string | string[]> = {}): Script {
  return (_seen, res) => {
    const bytes = Buffer.from(JSON.stringify(body))
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers }).end(bytes)
  }
}

export function text(status: number, body: string | Buffer, headers: Record<string, string | string[]> = {}): Script {
  return (_seen, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body)
  }
}

/** 200 JSON naming the credential it was called with and echoing the body it received. */
export const echoKey: Script = (seen, res) => {
  const body = JSON.stringify({ type: 'message', key: seen.key ?? null, received: seen.body.toString('utf8') })
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_upstream_1' }).end(body)
}

/** POSTs a small JSON body to `url` and returns the key `echoKey` says served it. */
export async function keyServing(url: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' })
  expect(res.status).toBe(200)
  return ((await res.json()) as { key: string }).key
}

/** Never answers; the exchange stays open until the client or the test closes it. */
export const hang: Script = () => {}

/** Closes the connection without any response. */
export const reset: Script = (_seen, res) => {
  res.socket?.destroy()
}

/**
 * A `count`-chunk binary body written as fast as the reader takes it (a full socket waits for
 * 'drain'); `sent()` says how many chunks have gone out so far.
 */
export function bulk(chunk: Buffer, count: number): Script & { sent(): number } {
  let sent = 0
  const script: Script = (_seen, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': chunk.length * count })
    const pump = (): void => {
      while (sent < count) {
        sent++
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      res.end()
    }
    pump()
  }
  return Object.assign(script, { sent: () => sent })
}

/** Sends the head, then each of `parts` a moment apart, then kills the connection without ending the response. */
export function dieAfter(headers: OutgoingHttpHeaders, ...parts: Array<string | Buffer>): Script {
  return async (_seen, res) => {
    res.writeHead(200, headers)
    res.flushHeaders()
    await new Promise((r) => setTimeout(r, 10))
    for (const p of parts) {
      res.write(p)
      await new Promise((r) => setTimeout(r, 10))
    }
    res.socket?.destroy()
  }
}

/** Answers according to the credential the request carried (`'*'` for any other). */
export function byKey(scripts: Record<string, Script>): Script {
  return (seen, res, req) => {
    const script = (seen.key !== undefined ? scripts[seen.key] : undefined) ?? scripts['*']
    if (!script) {
      res.writeHead(418).end(`no script for this key`)
      return
    }
    return script(seen, res, req)
  }
}

/** A 429 of the given dialect with the given headers. */
export function rateLimited(headers: Record<string, string> = {}, dialect: 'anthropic' | 'openai' = 'openai'): Script {
  const body =
    dialect === 'anthropic'
      ? { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } }
      : { error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' } }
  return json(429, body, headers)
}

/**
 * Sends SSE events. With `hold`, waits for it after the first event before sending the rest
 * (unless the exchange was closed meanwhile).
 */
export function sse(events: string[], options: { hold?: Promise<unknown>; headers?: Record<string, string> } = {}): Script {
  return async (_seen, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', ...options.headers })
    res.flushHeaders()
    for (let i = 0; i < events.length; i++) {
      res.write(events[i])
      if (i === 0 && options.hold) {
        await options.hold
        if (res.destroyed) return
      }
    }
    res.end()
  }
}

export function sseEvent(event: string | null, data: unknown): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`
}

// ---- Realistic provider answers ------------------------------------------------------------

export function anthropicMessage(textOut = 'Hello from upstream', id = 'msg_01XFDUDYJgAACzvnptvVoYEL') {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-6',
    content: [{ type: 'text', text: textOut }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 6 },
  }
}

export function anthropicStreamEvents(textOut = 'Hello from upstream', id = 'msg_01Stream'): string[] {
  const words = textOut.split(/(?<= )/)
  return [
    sseEvent('message_start', {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-6',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 12, output_tokens: 1 },
      },
    }),
    sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    sseEvent('ping', { type: 'ping' }),
    ...words.map((w) => sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: w } })),
    sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } }),
    sseEvent('message_stop', { type: 'message_stop' }),
  ]
}

export function openaiCompletion(textOut = 'Hello from upstream', id = 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT') {
  return {
    id,
    object: 'chat.completion',
    created: 1741569952,
    model: 'gpt-4.1-2025-04-14',
    choices: [{ index: 0, message: { role: 'assistant', content: textOut, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
    service_tier: 'default',
    system_fingerprint: 'fp_3f58d112f7',
  }
}

export function openaiStreamEvents(textOut = 'Hello from upstream', id = 'chatcmpl-stream'): string[] {
  const chunk = (delta: object, finish: string | null) =>
    sseEvent(null, {
      id,
      object: 'chat.completion.chunk',
      created: 1741569952,
      model: 'gpt-4.1-2025-04-14',
      system_fingerprint: 'fp_3f58d112f7',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    })
  return [
    chunk({ role: 'assistant', content: '', refusal: null }, null),
    ...textOut.split(/(?<= )/).map((w) => chunk({ content: w }, null)),
    chunk({}, 'stop'),
    'data: [DONE]\n\n',
  ]
}

/** An OpenAI Responses API answer (`POST /v1/responses`), as the Vercel AI SDK's default OpenAI model calls it. */
export function openaiResponse(textOut = 'Hello from upstream', status: 'in_progress' | 'completed' = 'completed', id = 'resp_upstream') {
  const item = { id: 'msg_upstream', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text: textOut }] }
  return {
    id,
    object: 'response',
    created_at: 1741569952,
    status,
    error: null,
    incomplete_details: null,
    model: 'gpt-4.1-2025-04-14',
    output: status === 'completed' ? [item] : [],
    usage: status === 'completed' ? { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 18 } : null,
  }
}

export function openaiResponseEvents(textOut = 'Hello from upstream'): string[] {
  let seq = 0
  const event = (type: string, data: object) => sseEvent(type, { type, sequence_number: seq++, ...data })
  const at = { item_id: 'msg_upstream', output_index: 0, content_index: 0 }
  const done = openaiResponse(textOut)
  return [
    event('response.created', { response: openaiResponse(textOut, 'in_progress') }),
    event('response.output_item.added', { output_index: 0, item: { ...done.output[0], status: 'in_progress', content: [] } }),
    event('response.content_part.added', { ...at, part: { type: 'output_text', annotations: [], text: '' } }),
    ...textOut.split(/(?<= )/).map((delta) => event('response.output_text.delta', { ...at, delta, logprobs: [] })),
    event('response.output_text.done', { ...at, text: textOut, logprobs: [] }),
    event('response.output_item.done', { output_index: 0, item: done.output[0] }),
    event('response.completed', { response: done }),
  ]
}

/** The realistic success answer for a Messages, Chat Completions or Responses request, streaming when asked. */
export function providerAnswer(textOut = 'Hello from upstream'): Script {
  return (seen, res, req) => {
    let stream = false
    try {
      stream = (JSON.parse(seen.body.toString('utf8')) as { stream?: boolean }).stream === true
    } catch {
      // not JSON: answer non-streaming
    }
    const anthropic = seen.url.includes('/messages')
    const responses = seen.url.includes('/responses')
    const requestId: Record<string, string> = anthropic ? { 'request-id': 'req_011CUpstream' } : { 'x-request-id': 'req_openaiUpstream' }
    if (stream) {
      const events = anthropic ? anthropicStreamEvents(textOut) : responses ? openaiResponseEvents(textOut) : openaiStreamEvents(textOut)
      return sse(events, { headers: requestId })(seen, res, req)
    }
    return json(200, anthropic ? anthropicMessage(textOut) : responses ? openaiResponse(textOut) : openaiCompletion(textOut), requestId)(seen, res, req)
  }
}
