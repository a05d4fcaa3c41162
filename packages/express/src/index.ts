import type { Bridge, BridgeOptions } from '@aibridge/core'
import { adapterMount, hostBody, pathBelow } from '@aibridge/core/adapter'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

// What a user of this adapter needs from the engine, from one import: core's user API (its `api` entry),
// without core's node-handler types.
export * from '@aibridge/core/api'

/** Bridge options, plus where below the mount the bridge answers (`'/ai'`: `/ai/{provider}/...`; default the mount itself). */
export type AibridgeExpressOptions = BridgeOptions & { prefix?: string }

/** Express middleware serving a bridge; `.bridge` is the bridge behind it (for `keyStates()`, `resetKey()`, `close()`). */
export type AibridgeMiddleware = RequestHandler & { readonly bridge: Bridge }

/**
 * Express 4 and 5 middleware: `app.use('/ai', aibridge(options))` or `app.use(aibridge(options))`.
 * Requests to `/{provider}/...` below the mount are served from the key pool; any other path calls
 * `next()`. Pass an existing `Bridge` instead of options to share one pool across several mounts
 * (`aibridge(bridge, { prefix: '/ai' })` at the root).
 */
export function aibridge(optionsOrBridge: AibridgeExpressOptions | Bridge, mount?: { prefix?: string }): AibridgeMiddleware {
  // `aibridge({ prefix, ...options })` or `aibridge(bridge, { prefix })` at the app's root serves below
  // that prefix, the way the Koa and Fastify adapters are configured; `app.use('/ai', ...)` needs none.
  const { bridge, prefix } = adapterMount(optionsOrBridge, mount)
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    // Express has already stripped the mount path from req.url (req.originalUrl keeps it).
    // A prefix given in the options matches as the app's own routes do ('case sensitive routing').
    const path = pathBelow(req.url, prefix, prefix === '' || req.app?.get('case sensitive routing') === true)
    if (path === undefined) return next()
    const raw = (req as { rawBody?: unknown }).rawBody
    bridge.handle(req, res, { path, body: hostBody(raw, req.body), next }).catch((err: unknown) => {
      if (!res.headersSent) next(err)
      else res.destroy()
    })
  }
  return Object.assign(middleware, { bridge }) as AibridgeMiddleware
}

export default aibridge
