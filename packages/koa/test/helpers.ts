import { aibridge, type AibridgeKoaOptions, type AibridgeMiddleware, type BridgeOptions } from '@aibridge/koa'
import type Koa from 'koa'
import { beforeEach } from 'vitest'
import { fixture, type Fixture } from '../../../test/support/fixture.js'
import { echoKey } from '../../../test/support/upstream.js'

export const K1 = 'sk-ant-api03-KOA-TEST-PRIMARY-aaaa1111'
export const K2 = 'sk-ant-api03-KOA-TEST-SECOND-bbbb2222'

/** Bridge options with one Anthropic provider, two keys, pointed at the scripted upstream. */
export function anthropicAt(baseURL: string) {
  return { providers: { anthropic: { keys: [K1, K2], baseURL } } }
}

export interface Setup extends Fixture {
  /** `aibridge({ ...anthropicAt(up.url), ...options }, mount)`; its bridge is closed after the test. */
  aibridge(options?: Partial<BridgeOptions>, mount?: AibridgeKoaOptions): AibridgeMiddleware
  /** Serves a Koa app on a free port until the end of the test; resolves with its origin. */
  serveApp(app: Koa): Promise<string>
  /** The errors this test's served apps emitted (Koa's default handler would print them). */
  readonly errors: Error[]
}

/** The shared per-test fixture, its upstream answering with the key it was called with (`echoKey`) unless scripted. */
export function setup(): Setup {
  const t = fixture(echoKey)
  const errors: Error[] = []
  beforeEach(() => {
    errors.length = 0
  })
  return Object.assign(t, {
    errors,
    aibridge(options: Partial<BridgeOptions> = {}, mount?: AibridgeKoaOptions) {
      const mw = aibridge({ ...anthropicAt(t.up.url), ...options }, mount)
      t.own(mw.bridge)
      return mw
    },
    serveApp(app: Koa) {
      app.on('error', (err: Error) => errors.push(err))
      return t.serve(app.callback())
    },
  })
}
