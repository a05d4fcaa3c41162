import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** What the scripted upstream received for one request. */
export interface Seen {
  method: string
  /** The request target as it arrived (path and query). */
  url: string
  headers: IncomingHttpHeaders
  /** The raw body bytes. */
  body: Buffer
  /** `x-api-key`, else the token of `Authorization: Bearer`. */
  key: string | undefined
  /** True once the connection closed before the response was finished. */
  aborted: boolean
  /** Resolves when the exchange closed (finished or aborted). */
  closed: Promise<void>
}

/** How the upstream answers one request; it may hold the response open as long as it likes. */
export type Script = (seen: Seen, res: ServerResponse) => void

export interface Upstream {
  /** `http://127.0.0.1:PORT`. */
  url: string
  requests: Seen[]
  /** Scripts for the next requests, one each, in arrival order; then 200 `{"ok":true}`. */
  queue(...scripts: Script[]): void
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number): Promise<Seen[]>
  close(): Promise<void>
}

/** A node:http server on 127.0.0.1:0 whose answer to each request the test scripts. */
export async function startUpstream(): Promise<Upstream> {
  const requests: Seen[] = []
  const queued: Script[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const auth = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')
      let closed!: () => void
      const seen: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        key: (req.headers['x-api-key'] as string | undefined) ?? auth?.[1],
        aborted: false,
        closed: new Promise((resolve) => (closed = resolve)),
      }
      res.on('close', () => {
        if (!res.writableFinished) seen.aborted = true
        closed()
      })
      res.on('error', () => {})
      requests.push(seen)
      ;(queued.shift() ?? json(200, { ok: true }))(seen, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queue: (...scripts) => void queued.push(...scripts),
    async waitFor(n) {
      const deadline = Date.now() + 5000
      while (requests.length < n) {
        if (Date.now() > deadline) throw new Error(`upstream saw ${requests.length} requests, expected ${n}`)
        await new Promise((r) => setTimeout(r, 5))
      }
      return requests
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Script {
  return (_seen, res) => {
    const bytes = Buffer.from(JSON.stringify(body))
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers }).end(bytes)
  }
}

/** A 429 the way Anthropic sends it. */
export const rateLimited = json(429, { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }, { 'retry-after': '30' })

/** An event stream that sends `first`, then holds until `release` resolves, then sends `rest` and ends. */
export function heldStream(first: string, release: Promise<void>, rest = 'event: message_stop\ndata: {}\n\n'): Script {
  return (_seen, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(first)
    void release.then(() => {
      if (!res.destroyed) res.end(rest)
    })
  }
}

/** A promise and the function that resolves it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}
