/**
 * A bounded slice of the live fuzz run (`pnpm fuzz` sends 100,000): 2,000 generated hostile requests
 * over raw sockets through every mount, against the sources. fuzz.mjs says what is checked. The seed is
 * fixed so CI sends the same requests every time; FUZZ_SEED picks others.
 */
import { expect, test } from 'vitest'
import { runFuzz } from './fuzz.mjs'

test('2,000 hostile requests through node, Express, Koa and Fastify: every answer accounted for, no crash, no leak', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20_261_206)
  const summary = await runFuzz({ requests: 2000, seed, concurrency: 8 })
  expect(summary.failures.samples, `seed ${seed}`).toEqual([])
  expect(summary.failures.total).toBe(0)
  expect(summary.leakHits).toBe(0)
  expect(summary.requests).toBe(2000)
  // The slice reaches every mount, and the provider, the bridge's own errors and the hosts' own answers on each.
  for (const [mount, { requests, answers }] of Object.entries(summary.perMount)) {
    expect(requests, mount).toBeGreaterThan(300)
    for (const kind of ['mock', 'bridge', 'host']) expect(answers[kind] ?? 0, `${mount} ${kind}`).toBeGreaterThan(0)
  }
}, 120_000)
