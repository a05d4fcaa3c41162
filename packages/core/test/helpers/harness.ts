import { fixture, type Fixture } from '../../../../test/support/fixture.js'
import type { BridgeOptions } from '../../src/index.js'
import { startBridge, type Running } from './bridge.js'

export interface Harness extends Fixture {
  /** Starts a bridge behind a plain node:http app; closed after the test. */
  start(options: BridgeOptions, serve?: Parameters<typeof startBridge>[1]): Promise<Running>
}

/** The shared per-test fixture, plus bridges served by a plain node:http app. */
export function harness(): Harness {
  const f = fixture()
  return Object.assign(f, {
    async start(options: BridgeOptions, serve?: Parameters<typeof startBridge>[1]) {
      const r = await startBridge(options, serve)
      f.host({ close: () => r.closeHost() })
      f.own(r.bridge)
      return r
    },
  })
}
