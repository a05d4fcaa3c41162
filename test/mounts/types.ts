import type { Bridge } from '@aibridge/core'

export interface MountOptions {
  /** Where the host mounts aibridge, e.g. '/ai'; null mounts it at the root. */
  prefix: string | null
  /** The host installs its framework's usual JSON body parser before aibridge (express.json(), @koa/bodyparser, Fastify's own). */
  hostParser: boolean
  /** The bridge's bodyLimit, for adapters whose framework enforces its own limit too (Fastify). */
  bodyLimit: number
}

export interface Mounted {
  /** `http://127.0.0.1:PORT` followed by the prefix (no trailing slash). */
  baseURL: string
  /** Stops the host app. Does not close the bridge (the suite owns it). */
  close(): Promise<void>
}

/**
 * One way of serving a bridge. Every host app also answers `GET {prefix}/_host/ping` with
 * 200 JSON `{"host":"<name>"}` through the framework's own routing, registered so that aibridge
 * must fall through (call next / not match) for it to be reached.
 */
export interface Mount {
  name: string
  start(bridge: Bridge, options: MountOptions): Promise<Mounted>
}
