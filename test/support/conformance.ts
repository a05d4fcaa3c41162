/**
 * The conformance harness: a scenario runs against the plain Node handler and every adapter, each
 * mounted under a prefix and at the root, with the host's own body parser in front, all in front of
 * one simulator that accepts only the pool's keys (and the BYOK client's). Each test file passes its
 * list of scenarios to `conformance`.
 */
import { createBridge, type Bridge, type BridgeOptions, type InterceptionRecord, type KeyMarkedEvent } from '@aibridge/core'
import { startSimulator, type Simulator } from '@aibridge/simulator'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { mounts } from '../mounts/index.js'
import type { Mount, Mounted } from '../mounts/types.js'

export const A1 = 'sk-ant-api03-CONFORMANCE-PRIMARY-aaaa1111'
export const A2 = 'sk-ant-api03-CONFORMANCE-SECOND-bbbb2222'
export const O1 = 'sk-proj-CONFORMANCE-PRIMARY-cccc3333'
export const O2 = 'sk-proj-CONFORMANCE-SECOND-dddd4444'
export const G1 = 'AIzaSy-CONFORMANCE-PRIMARY-ffff6666'
export const G2 = 'AIzaSy-CONFORMANCE-SECOND-gggg7777'
export const Z1 = 'azure0CONFORMANCE0PRIMARY0iiii8888'
export const Z2 = 'azure0CONFORMANCE0SECOND0jjjj9999'
export const CLIENT_KEY = 'sk-ant-api03-CLIENT-OWN-KEY-eeee5555'
export const POOL_KEYS = [A1, A2, O1, O2, G1, G2, Z1, Z2]

export { mounts }

export type ProviderName = 'anthropic' | 'openai' | 'gemini' | 'azure'

export interface Ctx {
  sim: Simulator
  /** A second simulator: another Azure resource, in another region, that issued only Z2. */
  sim2: Simulator
  bridge: Bridge
  mounted: Mounted
  records: InterceptionRecord[]
  logs: string[]
  /** `{mount}/{provider}{path}` */
  url(provider: ProviderName, path?: string): string
  /** Replaces the bridge (and the mount) with one built from extra options. */
  remount(extra: Partial<BridgeOptions>): Promise<void>
  /** Resolves once `n` records have arrived (records are emitted when the response has ended). */
  recorded(n: number): Promise<InterceptionRecord[]>
}

export interface Scenario {
  name: string
  run(ctx: Ctx, mount: Mount): Promise<void>
}

export function messageBody(text: string, stream = false): string {
  return JSON.stringify({ model: 'claude-sim-1', max_tokens: 64, stream, messages: [{ role: 'user', content: text }] })
}

export const json = { 'content-type': 'application/json' }
// The Anthropic API (and the simulator) refuse a request without its version header.
export const anthropicJson = { ...json, 'anthropic-version': '2023-06-01' }

/** The keyMarked events of the bridge under test, from now on (their `at` is when the key was marked). */
export function watchMarks(ctx: Ctx): KeyMarkedEvent[] {
  const marks: KeyMarkedEvent[] = []
  ctx.bridge.observe({ keyMarked: (e) => marks.push(e) })
  return marks
}

/** Runs every scenario on every mount (`only`: on those mounts alone). */
export function conformance(scenarios: Scenario[], only: Mount[] = mounts): void {
  describe.each(only.flatMap((mount) => [
    { mount, prefix: '/ai' as string | null, label: `${mount.name} under /ai` },
    { mount, prefix: null as string | null, label: `${mount.name} at the root` },
  ]))('$label', ({ mount, prefix }) => {
    let sim: Simulator
    let sim2: Simulator
    const ctx = {} as Ctx

    beforeAll(async () => {
      // As a real provider, the simulator accepts only the keys it issued: the pool's and the BYOK client's.
      sim = await startSimulator({ validKeys: { anthropic: [A1, A2, CLIENT_KEY], openai: [O1, O2], gemini: [G1, G2], azure: [Z1, Z2] } })
      sim2 = await startSimulator({ validKeys: { azure: [Z2] } })
    })
    afterAll(async () => {
      await sim.close()
      await sim2.close()
    })

    beforeEach(async () => {
      sim.reset()
      sim2.reset()
      ctx.sim = sim
      ctx.sim2 = sim2
      ctx.records = []
      ctx.logs = []
      const make = async (extra: Partial<BridgeOptions>): Promise<void> => {
        const logLine = (level: string) => (obj: object, msg?: string) => ctx.logs.push(JSON.stringify({ level, ...obj, msg }))
        const options: BridgeOptions = {
          providers: {
            anthropic: { keys: [A1, A2], baseURL: sim.anthropicBaseURL },
            openai: { keys: [O1, O2], baseURL: sim.openaiBaseURL },
            gemini: { keys: [G1, G2], baseURL: sim.geminiBaseURL },
            azure: { keys: [Z1, Z2], baseURL: sim.azureBaseURL },
          },
          logger: { debug: logLine('debug'), info: logLine('info'), warn: logLine('warn'), error: logLine('error') },
          onInterception: (r) => ctx.records.push(r),
          ...extra,
        }
        ctx.bridge = createBridge(options)
        ctx.mounted = await mount.start(ctx.bridge, { prefix, hostParser: true, bodyLimit: extra.bodyLimit ?? 32 * 1024 * 1024 })
      }
      ctx.remount = async (extra) => {
        await ctx.mounted.close()
        await ctx.bridge.close()
        sim.reset()
        ctx.records.length = 0
        await make(extra)
      }
      ctx.url = (provider, path = '') => `${ctx.mounted.baseURL}/${provider}${path}`
      ctx.recorded = async (n) => {
        const deadline = Date.now() + 3000
        while (ctx.records.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
        expect(ctx.records.length).toBeGreaterThanOrEqual(n)
        return ctx.records
      }
      await make({})
    })

    afterEach(async () => {
      vi.useRealTimers()
      sim.release()
      await ctx.mounted.close()
      await ctx.bridge.close()
      // Whatever happened, no pool key may have reached a record or a log line.
      const seen = JSON.stringify(ctx.records) + ctx.logs.join('\n')
      for (const key of POOL_KEYS) expect(seen).not.toContain(key)
      expect(seen).not.toContain(CLIENT_KEY)
    })

    for (const scenario of scenarios) {
      it(scenario.name, () => scenario.run(ctx, mount))
    }
  })
}
