import { afterEach, beforeEach } from 'vitest'
import type { Bridge, BridgeOptions } from '../../src/index.js'
import { startBridge, type Running } from './bridge.js'
import { startUpstream, type Upstream } from './upstream.js'

export interface Harness {
  /** A fresh scripted upstream for each test. */
  readonly up: Upstream
  /** Starts a bridge behind a plain node:http app; closed after the test. */
  start(options: BridgeOptions, serve?: Parameters<typeof startBridge>[1]): Promise<Running>
  /** Registers a bridge-like resource to close after the test. */
  own(bridge: Bridge): void
}

/** Per-test upstream and bridges, torn down host first, then upstream (so held requests end), then bridges. */
export function harness(): Harness {
  let up: Upstream | undefined
  let running: Running[] = []
  let owned: Bridge[] = []
  beforeEach(async () => {
    up = await startUpstream()
  })
  afterEach(async () => {
    const hosts = running
    const bridges = owned
    running = []
    owned = []
    await Promise.all(hosts.map((r) => r.closeHost()))
    await up?.close()
    await Promise.all([...hosts.map((r) => r.bridge.close()), ...bridges.map((b) => b.close())])
  })
  return {
    get up() {
      if (!up) throw new Error('no upstream outside a test')
      return up
    },
    async start(options, serve) {
      const r = await startBridge(options, serve)
      running.push(r)
      return r
    },
    own(bridge) {
      owned.push(bridge)
    },
  }
}
