import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Bridge } from './bridge.js'
import { AibridgeOptionError, describeOptionValue } from './errors.js'
import type { KeyState } from './key-pool.js'
import type { InterceptionRecord } from './record.js'
import { statusPageHtml } from './status-page-html.js'

export interface StatusPageOptions {
  /**
   * Who may see the page: `(req) => boolean` (or a promise of one), asked on every request, or
   * `'public'` to serve it to anyone who can reach the route. Required: key hints, cooldowns and
   * recent requests are operator information.
   */
  authorize: ((req: IncomingMessage) => boolean | Promise<boolean>) | 'public'
}

/** What the page (and any client asking for `application/json`) gets. */
export interface StatusSnapshot {
  /** `bridge.keyStates()`: hints and states, never keys. */
  keys: Record<string, KeyState[]>
  /** The last `RECENT` requests' records, newest first. */
  recent: InterceptionRecord[]
  /** The server's clock (epoch ms), so a page can count cooldowns down against it. */
  now: number
}

/** A node handler for the status page; `stop()` ends its subscription to the bridge. */
export interface StatusPageHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): Promise<void>
  stop(): void
}

/** How many recent requests the page keeps. */
export const RECENT = 100

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length, 'cache-control': 'no-store', ...headers })
  res.end(bytes)
}

const refuse = (res: ServerResponse, status: number, message: string, headers?: Record<string, string>): void =>
  sendJson(res, status, { error: { type: status === 403 ? 'forbidden' : 'invalid_request_error', message: `aibridge: ${message}` } }, headers)

/** JSON for API clients and the page's own refresh; the HTML page only for a browser asking for HTML. */
function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('text/html') && !accept.includes('application/json')
}

/**
 * A live page of the bridge's key pool and recent requests, as a node handler to mount on any route
 * (`app.get('/ai/status', statusPage(bridge, { authorize }))`). A browser gets one self-contained
 * HTML page that refreshes itself; `Accept: application/json` gets a `StatusSnapshot`. Requests are
 * remembered from the moment this is called (the last 100). The page shows key hints, never keys.
 */
export function statusPage(bridge: Bridge, options: StatusPageOptions): StatusPageHandler {
  if (typeof bridge !== 'object' || bridge === null || typeof bridge.observe !== 'function') {
    throw new AibridgeOptionError(`statusPage() takes a Bridge first, got ${describeOptionValue(bridge)}`)
  }
  const authorize = (options as Partial<StatusPageOptions> | undefined)?.authorize
  if (authorize !== 'public' && typeof authorize !== 'function') {
    throw new AibridgeOptionError(
      `statusPage() needs { authorize }: a function (req) => boolean that admits your operators, or 'public' to show the page to anyone (got ${describeOptionValue(authorize)})`,
    )
  }
  for (const name of Object.keys(options)) {
    if (name !== 'authorize') throw new AibridgeOptionError(`statusPage() option ${JSON.stringify(name)} is not an option (authorize)`)
  }

  const recent: InterceptionRecord[] = []
  const unsubscribe = bridge.observe({
    requestEnded(record) {
      recent.push(record)
      if (recent.length > RECENT) recent.shift()
    },
  })

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'the status page answers GET only', { allow: 'GET, HEAD' })
    if (authorize !== 'public' && (await authorize(req)) !== true) return refuse(res, 403, 'not authorized to see the status page')
    if (res.headersSent || res.destroyed) return
    if (!wantsHtml(req.headers.accept)) {
      const snapshot: StatusSnapshot = { keys: bridge.keyStates(), recent: recent.slice().reverse(), now: Date.now() }
      return sendJson(res, 200, snapshot, { vary: 'Accept' })
    }
    const nonce = randomBytes(16).toString('base64')
    const html = Buffer.from(statusPageHtml(nonce))
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': html.length,
      'cache-control': 'no-store',
      vary: 'Accept',
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
    res.end(html)
  }

  const handler = async (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): Promise<void> => {
    try {
      await serve(req, res)
    } catch (err) {
      // An authorize() that throws: the host's error handler when there is one, else a 500.
      if (next) next(err)
      else if (!res.headersSent) sendJson(res, 500, { error: { type: 'internal_error', message: 'aibridge: the status page failed' } })
      else res.destroy()
    }
  }
  return Object.assign(handler, { stop: unsubscribe })
}
