import type { Bridge, BridgeOptions } from '@aibridge/core'
import { adapterMount, hostBody, pathBelow, type BridgeResponse } from '@aibridge/core/adapter'
import type { Context, Middleware, Next } from 'koa'

// What a user of this adapter needs from the engine, from one import: core's user API (its `api` entry),
// without core's node-handler types.
export * from '@aibridge/core/api'

export interface AibridgeKoaOptions {
  /**
   * Where the bridge answers, e.g. `'/ai'` for `/ai/{provider}/...`. Matched on whole path segments
   * (`/ai` never matches `/aiX`) against `ctx.url`, so it is relative to a `koa-mount` path around it.
   * @default '' (the root)
   */
  prefix?: string
}

/** Koa middleware serving a bridge; `.bridge` is the bridge behind it (for `keyStates()`, `resetKey()`, `close()`). */
export type AibridgeMiddleware = Middleware & { readonly bridge: Bridge }

function send(ctx: Context, { status, headers, body, eventStream }: BridgeResponse): void {
  ctx.status = status
  const { res } = ctx
  if (ctx.body == null && !res.headersSent) {
    // The usual case, and the cheap order: the provider's headers straight onto the response, then the
    // body, whose setter keeps the provider's Content-Type (it fills one in only when none is set).
    for (const name in headers) {
      const value = headers[name]
      if (value !== undefined) res.setHeader(name, value)
    }
    ctx.body = body
    // The setter also sets Content-Length to a buffer's length; the provider's stands (a HEAD answer's
    // empty body under the length of the body it did not send).
    const length = headers['content-length']
    if (length !== undefined) res.setHeader('content-length', length)
  } else {
    // A body set earlier by the host: the body goes first, since Koa's setter drops Content-Length when
    // it replaces a body with a stream; the provider's own headers then win.
    ctx.body = body
    for (const name in headers) {
      const value = headers[name]
      if (value !== undefined) ctx.set(name, typeof value === 'number' ? String(value) : value)
    }
  }
  // Koa fills in application/octet-stream when the provider sent no Content-Type; the client gets none.
  if (headers['content-type'] === undefined) ctx.remove('Content-Type')
  // koa-compress buffers what it compresses; an event stream must reach the client event by event.
  if (eventStream) (ctx as { compress?: boolean }).compress = false
}

/**
 * Koa 2 and 3 middleware: `app.use(aibridge(options, { prefix: '/ai' }))`, or at the root without a
 * prefix, or inside `koa-mount`. Requests to `/{provider}/...` below the prefix are served from the key
 * pool; any other path calls `next()`. Pass an existing `Bridge` instead of options to share one pool
 * across several mounts.
 */
export function aibridge(optionsOrBridge: (BridgeOptions & AibridgeKoaOptions) | Bridge, options?: AibridgeKoaOptions): AibridgeMiddleware {
  const { bridge, prefix } = adapterMount(optionsOrBridge, options)
  const middleware = async (ctx: Context, next: Next): Promise<void> => {
    // ctx.url, not ctx.path: the raw path and query, as koa-mount left them.
    const path = pathBelow(ctx.url, prefix)
    if (path === undefined) return next()
    const request = ctx.request as { rawBody?: unknown; body?: unknown }
    const response = await bridge.dispatch(ctx.req, ctx.res, { path, body: hostBody(request.rawBody, request.body) })
    if (!response) return next()
    send(ctx, response)
  }
  return Object.assign(middleware, { bridge }) as AibridgeMiddleware
}

export default aibridge
