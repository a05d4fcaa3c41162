/**
 * unshareSwappedShape: an object whose prototype was replaced after it was built (what Express does to
 * every req and res) goes to dictionary mode with every property and value it had; anything else keeps
 * its hidden class. On a real node:http server, bridge.handle leaves plain req/res as they are.
 */
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { createBridge } from '../src/index.js'
import { unshareSwappedShape } from '../src/swapped-shape.js'
import { hasFastProperties } from '../../../test/support/hidden-class.js'
import { fixture } from '../../../test/support/fixture.js'
import { echoKey } from '../../../test/support/upstream.js'

/** A ServerResponse as Express leaves it: new prototype, then properties added. */
function swapped(): http.ServerResponse {
  const res = new http.ServerResponse(new http.IncomingMessage(null as never))
  res.setMaxListeners(33)
  Object.setPrototypeOf(res, Object.create(http.ServerResponse.prototype))
  ;(res as unknown as { locals: object }).locals = { user: 'u1' }
  return res
}

const snapshot = (o: object) => Reflect.ownKeys(o).map((k) => [k, (o as Record<PropertyKey, unknown>)[k]] as const)
const sorted = (entries: ReadonlyArray<readonly [PropertyKey, unknown]>) => [...entries].sort(([a], [b]) => String(a).localeCompare(String(b)))

describe('unshareSwappedShape', () => {
  it('puts an object with a swapped prototype in dictionary mode and keeps every property, value and the prototype', () => {
    const res = swapped()
    const proto = Object.getPrototypeOf(res)
    const before = snapshot(res)
    expect(hasFastProperties(res)).toBe(true)
    unshareSwappedShape(res)
    expect(hasFastProperties(res)).toBe(false)
    expect(sorted(snapshot(res))).toEqual(sorted(before))
    expect(Object.getPrototypeOf(res)).toBe(proto)
    expect(res.getMaxListeners()).toBe(33)
    expect(Object.getOwnPropertyDescriptor(res, '_maxListeners')).toMatchObject({ writable: true, enumerable: true, configurable: true })
    // Still a working response object: headers go in and out as before.
    res.setHeader('x-test', '1')
    expect(res.getHeader('x-test')).toBe('1')
  })

  it('puts _maxListeners back exactly as it was: an accessor stays an accessor, a read-only value stays read-only', () => {
    const withAccessor = swapped()
    let reads = 0
    Object.defineProperty(withAccessor, '_maxListeners', { get: () => (reads++, 7), set: () => {}, enumerable: false, configurable: true })
    const readOnly = swapped()
    Object.defineProperty(readOnly, '_maxListeners', { value: 5, writable: false, enumerable: true, configurable: true })
    for (const obj of [withAccessor, readOnly]) {
      const before = Object.getOwnPropertyDescriptor(obj, '_maxListeners')
      reads = 0
      unshareSwappedShape(obj)
      expect(Object.getOwnPropertyDescriptor(obj, '_maxListeners')).toEqual(before)
      expect(hasFastProperties(obj)).toBe(false)
    }
    expect(reads).toBe(0) // the getter was not called: the property was moved, not read
    expect(withAccessor.getMaxListeners()).toBe(7)
    expect(readOnly.getMaxListeners()).toBe(5)
  })

  it('leaves a _maxListeners that cannot be deleted where it is, without throwing', () => {
    const res = swapped()
    Object.defineProperty(res, '_maxListeners', { value: 9, writable: true, enumerable: true, configurable: false })
    const before = snapshot(res)
    expect(() => unshareSwappedShape(res)).not.toThrow()
    expect(snapshot(res)).toEqual(before)
    expect(res.getMaxListeners()).toBe(9)
  })

  it('leaves alone an object whose prototype is its constructor’s: plain, subclassed, or without _maxListeners', () => {
    const plain = new http.ServerResponse(new http.IncomingMessage(null as never))
    class Sub extends http.ServerResponse {}
    const sub = new Sub(new http.IncomingMessage(null as never))
    const noEmitter = Object.setPrototypeOf({ a: 1, b: 2 }, Object.create(Object.prototype)) as object
    const nullProto = Object.assign(Object.create(null) as object, { _maxListeners: 1, b: 2 })
    expect([plain, sub, noEmitter].map(hasFastProperties)).toEqual([true, true, true])
    for (const obj of [plain, sub, noEmitter, nullProto]) {
      const [before, fast] = [snapshot(obj), hasFastProperties(obj)]
      unshareSwappedShape(obj)
      expect(hasFastProperties(obj)).toBe(fast) // a null-prototype object is in dictionary mode from the start
      expect(snapshot(obj)).toEqual(before) // same keys in the same order: nothing was deleted
    }
  })
})

describe('bridge.handle on plain node:http', () => {
  const t = fixture(echoKey)
  let seen: boolean[] = []
  afterEach(() => void (seen = []))

  it('keeps req and res in fast mode (their hidden class is shared by every request)', async () => {
    const bridge = t.own(createBridge({ providers: { anthropic: { keys: ['sk-ant-api03-SHAPE-TEST-aaaa1111'], baseURL: t.up.url } } }))
    const origin = await t.serve((req, res) => {
      res.on('finish', () => seen.push(hasFastProperties(req), hasFastProperties(res)))
      void bridge.handle(req, res)
    })
    const res = await fetch(`${origin}/anthropic/v1/messages`, { method: 'POST', body: '{"model":"m"}' })
    expect(res.status).toBe(200)
    await res.text()
    await expect.poll(() => seen).toEqual([true, true])
  })
})
