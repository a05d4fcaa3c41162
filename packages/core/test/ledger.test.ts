/**
 * The ledger of requests in flight: each one's record goes out exactly once, and `idle()` (what
 * `close()` waits on) resolves once the last one has ended, however many times it is asked.
 */
import { expect, test } from 'vitest'
import type { Exchange } from '../src/exchange.js'
import type { Engine } from '../src/failover.js'
import { Ledger } from '../src/ledger.js'
import { silentLogger } from '../src/logger.js'
import { Observers } from '../src/observer.js'
import type { InterceptionRecord } from '../src/record.js'

// What the ledger reads of an exchange: its record, once (`finish`), and usage still decoding (`settled`).
function exchange(id: string, settled?: Promise<void>): Exchange {
  let done = false
  return {
    settled,
    finish: () => {
      if (done) return undefined
      done = true
      return { id, keysTried: [], usage: null } as unknown as InterceptionRecord
    },
  } as unknown as Exchange
}

const engine = { logger: silentLogger, observers: new Observers(silentLogger), recordsRead: true } as unknown as Engine

test('idle() resolves for every caller once the last exchange ends, and at once when none is in flight', async () => {
  const seen: string[] = []
  const ledger = new Ledger(engine, (r) => seen.push(r.id))
  await ledger.idle()
  const endA = ledger.track(exchange('a'))
  const endB = ledger.track(exchange('b'))
  const settled: string[] = []
  void ledger.idle().then(() => settled.push('first'))
  void ledger.idle().then(() => settled.push('second'))
  endA()
  endA()
  await new Promise((r) => setImmediate(r))
  expect(settled).toEqual([])
  endB()
  await new Promise((r) => setImmediate(r))
  expect(settled).toEqual(['first', 'second'])
  // Each record once, though `endA` was called twice.
  expect(seen).toEqual(['a', 'b'])
  // In flight again after idling: a new wait.
  const endC = ledger.track(exchange('c'))
  let again = false
  void ledger.idle().then(() => (again = true))
  await new Promise((r) => setImmediate(r))
  expect(again).toBe(false)
  endC()
  await new Promise((r) => setImmediate(r))
  expect(again).toBe(true)
})

test('a record whose usage is still decoding goes out when it is known', async () => {
  const seen: string[] = []
  const ledger = new Ledger(engine, (r) => seen.push(r.id))
  let decoded!: () => void
  const end = ledger.track(exchange('late', new Promise<void>((r) => (decoded = r))))
  end()
  await new Promise((r) => setImmediate(r))
  expect(seen).toEqual([])
  decoded()
  await new Promise((r) => setImmediate(r))
  expect(seen).toEqual(['late'])
})
