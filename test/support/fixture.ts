import { createServer, Server, type RequestListener } from 'node:http'
import { afterEach, beforeEach } from 'vitest'
import { closeServer, listen } from './http.js'
import { startUpstream, type Script, type Upstream } from './upstream.js'

export interface Closable {
  close(): PromiseLike<unknown>
}

export interface Fixture {
  /** A fresh scripted upstream for each test. */
  readonly up: Upstream
  /** Closes a host app or server after the test, before the upstream. Returns it. */
  host<T extends Closable>(host: T): T
  /** Serves a host app (its server, or its request listener) on a free port until the end of the test; resolves with its origin. */
  serve(app: Server | RequestListener): Promise<string>
  /**
   * Closes a bridge after the test, once the upstream is closed: its connection pool waits for
   * open requests, and a held one ends only with the upstream.
   */
  own<T extends Closable>(bridge: T): T
}

/**
 * Per-test upstream (answering with `fallback` unless scripted otherwise) and teardown: hosts
 * first, then the upstream (so held requests end), then bridges.
 */
export function fixture(fallback?: Script): Fixture {
  let up: Upstream | undefined
  let hosts: Closable[] = []
  let bridges: Closable[] = []
  beforeEach(async () => {
    up = await startUpstream(fallback)
  })
  afterEach(async () => {
    const [h, b] = [hosts, bridges]
    hosts = []
    bridges = []
    // Every step runs even when one fails, so one broken host cannot leak sockets into later tests.
    const results = [...(await Promise.allSettled(h.map((x) => x.close())))]
    results.push(...(await Promise.allSettled([up?.close()])))
    results.push(...(await Promise.allSettled(b.map((x) => x.close()))))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  })
  const f: Fixture = {
    get up() {
      if (!up) throw new Error('no upstream outside a test')
      return up
    },
    host(host) {
      hosts.push(host)
      return host
    },
    async serve(app) {
      const server = app instanceof Server ? app : createServer(app)
      const origin = await listen(server)
      f.host({ close: () => closeServer(server) })
      return origin
    },
    own(bridge) {
      bridges.push(bridge)
      return bridge
    },
  }
  return f
}
