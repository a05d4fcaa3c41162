/**
 * Express (4 and 5) replaces the prototype of every request's `req` and `res` (`Object.setPrototypeOf`)
 * and then adds properties to them (`res.locals`, `req.next`, `req.baseUrl`, ...). In V8 a property added
 * after a prototype swap gives the object a hidden class (map) of its own: no two requests share one, so
 * every property access on them (most of them inside Node's http code) misses V8's caches, and each later
 * addition (`statusCode` and `statusMessage` in `writeHead`, ...) builds yet another map, with a copy of the
 * object's property descriptors that outlives the next young-generation collection
 * (`benchmarks/swap-survival.mjs`).
 *
 * In dictionary mode an object gains properties without new maps, and V8 keeps one dictionary-mode map
 * per prototype and layout (its normalized map cache): every request's `res` shares it again, and so does
 * every `req`. That cache has one entry per hash of the prototype's map; an object of another kind
 * normalized on the same entry between two requests evicts it, and then each request's object gets a
 * dictionary map of its own, which costs about what the swap cost before (`benchmarks/map-sharing.mjs`
 * counts how often: in none of 40 server processes; in 3 of 40 with a fetch client in the same process). So an object whose prototype was replaced after it was built is put in dictionary mode here:
 * V8 does that when an own property other than the last one is deleted, and the property is put back at
 * once as it was (only its place in the key order moves). An object whose prototype is its
 * constructor's (plain node:http, Koa, Fastify, a `ServerResponse` subclass) is left as it is: its hidden
 * class is shared and fast.
 *
 * Measured in `benchmarks/` (the Express middleware against express + http-proxy-middleware): about a
 * quarter more requests per second; the CPU saved is spread over `writeHead`, garbage collection, the
 * socket writes and every function that reads `req` or `res`.
 */
export function unshareSwappedShape(obj: object): void {
  const proto: unknown = Object.getPrototypeOf(obj)
  if (proto === null || proto === (obj as { constructor?: { prototype?: unknown } }).constructor?.prototype) return
  // Every EventEmitter has this own property from its constructor, well before the last one added. It
  // goes back exactly as it was (an accessor or read-only one too); one that cannot be deleted stays.
  const descriptor = Object.getOwnPropertyDescriptor(obj, '_maxListeners')
  if (!descriptor || !Reflect.deleteProperty(obj, '_maxListeners')) return
  // An assignment, when it gives the same property: `defineProperty` would leave the object a map of
  // its own again, not the one every request shares.
  if (descriptor.writable && descriptor.enumerable && descriptor.configurable) (obj as { _maxListeners?: unknown })._maxListeners = descriptor.value
  else Object.defineProperty(obj, '_maxListeners', descriptor)
}
