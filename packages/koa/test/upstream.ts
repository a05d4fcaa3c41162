/** A scripted stand-in for a provider: records every request and answers from a queue of scripts. */
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface UpstreamRequest {
  method: string
  /** Path and query as received. */
  url: string
  headers: IncomingHttpHeaders
  body: Buffer
  /** True once the connection closed before the response was finished. */
  aborted: boolean
  /** Resolves with the time the connection closed before the response was finished. */
  abortedAt: Promise<number>
}

export type Script = (req: UpstreamRequest, res: ServerResponse) => void | Promise<void>

export interface Upstream {
  baseURL: string
  requests: UpstreamRequest[]
  /** Queues answers for the next requests, in order; once empty, requests get `ok`. */
  script(...scripts: Script[]): void
  /** An SSE answer that sends its first event, then holds the stream open until `release()`. */
  heldStream(events: string[]): Script
  /** Lets every held stream finish. */
  release(): void
  close(): Promise<void>
}

/** 200 JSON naming the key it was called with and echoing the body it received. */
export const ok: Script = (req, res) => {
  const body = JSON.stringify({ type: 'message', key: req.headers['x-api-key'] ?? null, received: req.body.toString('utf8') })
  res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_upstream_1' }).end(body)
}

export const RATE_LIMIT_BODY = JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' } })

export function rateLimited(seconds: number): Script {
  return (_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(seconds) }).end(RATE_LIMIT_BODY)
  }
}

/** Any status with a body and headers, sent as given. */
export function answer(status: number, headers: http.OutgoingHttpHeaders, body?: string | Buffer): Script {
  return (_req, res) => {
    res.writeHead(status, headers).end(body)
  }
}

/** A JSON answer of about `size` bytes, large enough for compression to kick in. */
export function bigJson(size: number): Script {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: 'a'.repeat(size) }))
  }
}

/** Sends the head and `sent`, then destroys the socket: a provider dying mid-body. */
export function dieAfter(headers: http.OutgoingHttpHeaders, sent: string): Script {
  return async (_req, res) => {
    res.writeHead(200, headers)
    res.write(sent)
    await new Promise((resolve) => setTimeout(resolve, 50))
    res.socket?.destroy()
  }
}

export async function startUpstream(): Promise<Upstream> {
  const requests: UpstreamRequest[] = []
  const queue: Script[] = []
  let holds: (() => void)[] = []
  let released = false

  const held = (): Promise<void> => (released ? Promise.resolve() : new Promise<void>((resolve) => holds.push(resolve)))

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let onAbort!: (at: number) => void
      const recorded: UpstreamRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        aborted: false,
        abortedAt: new Promise<number>((resolve) => (onAbort = resolve)),
      }
      res.on('close', () => {
        if (res.writableFinished) return
        recorded.aborted = true
        onAbort(Date.now())
      })
      requests.push(recorded)
      const script = queue.shift() ?? ok
      void Promise.resolve(script(recorded, res)).catch(() => res.destroy())
    })
  })

  const upstream: Upstream = {
    baseURL: '',
    requests,
    script: (...scripts) => void queue.push(...scripts),
    heldStream: (events) => async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_stream_1' })
      res.write(events[0])
      await held()
      if (res.destroyed) return
      for (const e of events.slice(1)) res.write(e)
      res.end()
    },
    release() {
      released = true
      for (const resolve of holds) resolve()
      holds = []
    },
    close: () =>
      new Promise<void>((resolve) => {
        upstream.release()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  upstream.baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return upstream
}
