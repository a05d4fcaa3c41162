import { createBridge, isBridge, type Bridge, type BridgeOptions } from '@aibridge/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

// Everything a user of this adapter needs from the engine, from one import.
export * from '@aibridge/core'

/** Express middleware serving a bridge; `.bridge` is the bridge behind it (for `keyStates()`, `resetKey()`, `close()`). */
export type AibridgeMiddleware = RequestHandler & { readonly bridge: Bridge }

/**
 * The body a host parser already read. A raw copy kept by a `verify` callback (`req.rawBody`) is
 * preferred: it is the exact bytes the client sent, where a parsed object can only be re-serialized.
 */
function hostBody(req: Request): unknown {
  const raw = (req as { rawBody?: unknown }).rawBody
  return Buffer.isBuffer(raw) || typeof raw === 'string' ? raw : req.body
}

/**
 * Express 4 and 5 middleware: `app.use('/ai', aibridge(options))` or `app.use(aibridge(options))`.
 * Requests to `/{provider}/...` below the mount are served from the key pool; any other path calls
 * `next()`. Pass an existing `Bridge` instead of options to share one pool across several mounts.
 */
export function aibridge(optionsOrBridge: BridgeOptions | Bridge): AibridgeMiddleware {
  const bridge = isBridge(optionsOrBridge) ? optionsOrBridge : createBridge(optionsOrBridge)
  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    // Express has already stripped the mount path from req.url (req.originalUrl keeps it).
    bridge.handle(req, res, { path: req.url, body: hostBody(req), next }).catch((err: unknown) => {
      if (!res.headersSent) next(err)
      else res.destroy()
    })
  }
  return Object.assign(middleware, { bridge }) as AibridgeMiddleware
}

export default aibridge
