import { aibridge, type AibridgeMiddleware, type BridgeOptions } from '@aibridge/express'
import express from 'express'
import express4 from 'express4'
import { fixture, type Fixture } from '../../../test/support/fixture.js'
import { echoKey } from '../../../test/support/upstream.js'

/** Every test file runs against both majors. */
export const flavours = [
  { name: 'express 5', express },
  { name: 'express 4', express: express4 },
]

export const K1 = 'sk-ant-api03-EXPRESS-TEST-PRIMARY-aaaa1111'
export const K2 = 'sk-ant-api03-EXPRESS-TEST-SECOND-bbbb2222'

/** Bridge options with one Anthropic provider, two keys, pointed at the scripted upstream. */
export function anthropicAt(baseURL: string) {
  return { providers: { anthropic: { keys: [K1, K2], baseURL } } }
}

export interface Setup extends Fixture {
  /** `aibridge({ ...anthropicAt(up.url), ...options })`; its bridge is closed after the test. */
  aibridge(options?: Partial<BridgeOptions>): AibridgeMiddleware
}

/** The shared per-test fixture, its upstream answering with the key it was called with (`echoKey`) unless scripted. */
export function setup(): Setup {
  const t = fixture(echoKey)
  return Object.assign(t, {
    aibridge(options: Partial<BridgeOptions> = {}) {
      const mw = aibridge({ ...anthropicAt(t.up.url), ...options })
      t.own(mw.bridge)
      return mw
    },
  })
}
