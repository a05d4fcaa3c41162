/**
 * Express (4 and 5) replaces the prototype of every request's `req` and `res` (`Object.setPrototypeOf`)
 * and then adds properties to them (`res.locals`, `req.next`, `req.baseUrl`, ...). In V8 a property added
 * after a prototype swap gives the object a hidden class (map) of its own, and such an object survives
 * young-generation collections: it is copied, with everything it holds (headers, buffers, the
 * listeners and what they close over), to the old generation, which then fills at several KiB per
 * request. Each later addition (`statusCode` and `statusMessage` in `writeHead`, `_eventsCount` with
 * the first listener) makes another map, and every property access in Node's http code misses its
 * caches.
 *
 * An object in dictionary mode gains properties without new maps. So an object whose prototype was
 * replaced after it was built is put in dictionary mode here: V8 does that when an own property other
 * than the last one is deleted, and the property is put back at once with its value (only its place
 * in the key order moves). An object whose prototype is its constructor's (plain node:http, Koa,
 * Fastify, a `ServerResponse` subclass) is left as it is: its hidden class is shared and fast.
 *
 * Measured in `benchmarks/` (the Express middleware against express + http-proxy-middleware): about a
 * quarter more requests per second for the same CPU, mostly garbage collection saved.
 */
export function unshareSwappedShape(obj: object): void {
  const proto: unknown = Object.getPrototypeOf(obj)
  if (proto === null || proto === (obj as { constructor?: { prototype?: unknown } }).constructor?.prototype) return
  const holder = obj as { _maxListeners?: unknown }
  // Every EventEmitter has this own data property from its constructor, well before the last one added.
  if (!Object.hasOwn(holder, '_maxListeners')) return
  const value = holder._maxListeners
  delete holder._maxListeners
  holder._maxListeners = value
}
