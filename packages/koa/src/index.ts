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
  // The provider's headers straight onto the response, then the body: Koa's setter keeps a
  // Content-Type that is set (it fills one in only when none is). (Headers already sent by a host
  // middleware: Koa sends what it can, as with any body set that late.)
  const open = !res.headersSent
  if (open) {
    for (const name in headers) {
      const value = headers[name]
      if (value !== undefined) res.setHeader(name, value)
    }
  }
  ctx.body = body
  // The setter also sets Content-Length to a buffer's length, or drops it when a stream replaces a
  // body the host set: the provider's stands (a HEAD answer's is the length of the body not sent).
  const length = headers['content-length']
  if (open && length !== undefined) res.setHeader('content-length', length)
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
