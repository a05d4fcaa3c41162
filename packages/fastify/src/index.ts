import { AibridgeOptionError, createBridge, type Bridge, type BridgeOptions } from '@aibridge/core'
import { isBridge, mountPrefix } from '@aibridge/core/adapter'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

// What a user of this adapter needs from the engine, from one import: core's user API (its `api` entry),
// without core's node-handler types.
export * from '@aibridge/core/api'

interface MountOptions {
  /**
   * Where the bridge answers, e.g. `'/ai'` for `/ai/{provider}/...`; relative to the prefix of the
   * context the plugin is registered in. Read by the plugin itself (fastify-plugin skips encapsulation).
   * @default '' (the root)
   */
  prefix?: string
}

/** The plugin creates the bridge from these options and closes it with the Fastify instance. */
export interface AibridgeFastifyBridgeOptions extends BridgeOptions, MountOptions {
  /**
   * Largest request body accepted, in bytes; larger gets a 413 in the provider's error shape and
   * no upstream call.
   * @default the Fastify instance's `bodyLimit` (Fastify's own default is 1 MiB)
   */
  bodyLimit?: number
  bridge?: undefined
}

/** Serves an existing bridge (one pool shared across mounts or frameworks); the plugin never closes it. */
export interface AibridgeFastifySharedOptions extends MountOptions {
  bridge: Bridge
}

export type AibridgeFastifyOptions = AibridgeFastifyBridgeOptions | AibridgeFastifySharedOptions

declare module 'fastify' {
  interface FastifyInstance {
    /** The bridge of the first aibridge registration in this context (for `keyStates()`, `resetKey()`). */
    aibridge: Bridge
  }
}

// @fastify/compress decompresses request bodies unless a route opts out; the body must go upstream
// as the client sent it, Content-Encoding included. Version 9 reads the route option, 8 the config.
const ROUTE_OPTIONS: Record<string, unknown> = { decompress: false, config: { decompress: false } }

// Options Fastify's register() itself reads: they reach the plugin too, and are not the bridge's.
const REGISTER_OPTIONS = new Set(['prefix', 'logLevel', 'logSerializers'])

/** The plugin options without Fastify's own register() options. */
function withoutRegisterOptions<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([name]) => !REGISTER_OPTIONS.has(name))) as Partial<T>
}

function fail(message: string): never {
  throw new AibridgeOptionError(message)
}

function sharedBridge(options: AibridgeFastifySharedOptions): Bridge {
  const { bridge } = options
  if (!isBridge(bridge)) {
    fail('bridge must be a Bridge made by createBridge() of @aibridge/core')
  }
  // Everything else is refused, a misspelt prefix (`prefx`) included: it must not mount at the root.
  const extra = Object.keys(withoutRegisterOptions(options)).filter((k) => k !== 'bridge')
  if (extra.length > 0) {
    const near = extra.find((k) => /^pre|fix$/i.test(k))
    fail(`bridge cannot be combined with bridge options (${extra.join(', ')}): give them to createBridge()${near ? ` (did you mean prefix instead of ${near}?)` : ''}`)
  }
  return bridge
}

// RFC 9110 section 8.3.1: `type/subtype`, then any parameters. Fastify refuses anything else.
const MEDIA_TYPE = /^\s*[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*(?:;|$)/

// Content-Type headers hidden from Fastify's own check, until the body parser gives them back.
const hiddenTypes = new WeakMap<FastifyRequest['raw'], string>()

/**
 * Fastify 5 answers a Content-Type that is no media type (an empty one, say) with its own
 * 415 before any parser runs. The bridge forwards the type the client sent and leaves judging it to the
 * provider, so on its routes such a header is out of Fastify's sight from the last preParsing hook until
 * the body parser (or, with no body, the plugin's preValidation hook) puts it back.
 */
function hideOddContentType(request: FastifyRequest): void {
  const headers = request.raw.headers
  const type = headers['content-type']
  if (type === undefined || MEDIA_TYPE.test(type)) return
  hiddenTypes.set(request.raw, type)
  delete headers['content-type']
}

function restoreContentType(request: FastifyRequest): void {
  const type = hiddenTypes.get(request.raw)
  if (type === undefined) return
  hiddenTypes.delete(request.raw)
  request.raw.headers['content-type'] = type
}

/** The routes, in their own encapsulated context so the raw-body parsing stays under the prefix. */
async function routes(scope: FastifyInstance, { bridge }: { bridge: Bridge }): Promise<void> {
  // The full prefix, outer contexts' included: the request URL starts with it.
  const mount = scope.prefix

  // The body stays unread: the bridge reads it itself, whole and within its limit, so it can replay
  // it on failover and answer an oversized one in the provider's error shape.
  scope.removeAllContentTypeParsers()
  scope.addHook('preParsing', async (request, _reply, payload) => {
    hideOddContentType(request)
    return payload
  })
  // A request without a body skips the parser.
  scope.addHook('preValidation', async (request) => restoreContentType(request))
  scope.addContentTypeParser('*', (request, payload, done) => {
    restoreContentType(request)
    // A host preParsing hook may have put a transform in front of the body: the bridge then reads
    // what the transform yields, within its own limit.
    done(null, payload === request.raw ? undefined : payload)
  })

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const url = request.raw.url ?? '/'
    const response = await bridge.dispatch(request.raw, reply.raw, { path: url.slice(mount.length) || '/', body: request.body })
    if (!response) {
      reply.callNotFound()
      return reply
    }
    const { status, headers, body } = response
    if (reply.raw.destroyed) {
      if (!Buffer.isBuffer(body)) body.destroy()
      return reply
    }
    // An event stream must reach the client event by event; @fastify/compress buffers whatever it
    // compresses (a host's `customTypes` may match text/event-stream) unless this header is set.
    if (response.eventStream) request.headers = { ...request.headers, 'x-no-compression': '1' }
    return reply.code(status).headers(headers).send(body)
  }
  // Only the providers' own paths: a root mount must leave every other route (a host's `/*`, CORS
  // preflights, static files) to the app.
  for (const name of bridge.providerNames) {
    for (const url of [`/${name}`, `/${name}/*`]) scope.all(url, ROUTE_OPTIONS, handler)
  }
}

const plugin: FastifyPluginAsync<AibridgeFastifyOptions> = async (fastify, options) => {
  const prefix = mountPrefix(options.prefix)
  let bridge: Bridge
  if (options.bridge !== undefined) {
    bridge = sharedBridge(options)
  } else {
    const { bridge: _bridge, ...bridgeOptions } = withoutRegisterOptions(options) as AibridgeFastifyBridgeOptions
    // The instance's bodyLimit is always set at runtime (typed optional); 1 MiB is Fastify's default.
    const bodyLimit = options.bodyLimit ?? fastify.initialConfig.bodyLimit ?? 1024 * 1024
    bridge = createBridge({ ...bridgeOptions, bodyLimit })
    fastify.addHook('onClose', () => bridge.close())
  }
  // A second registration keeps the first one's decorator; to reach its pool, create the bridge yourself.
  if (!fastify.hasDecorator('aibridge')) fastify.decorate('aibridge', bridge)
  await fastify.register(routes, { prefix, bridge })
}

/**
 * Serves a pool of LLM provider keys with automatic failover under `prefix`:
 * `app.register(aibridge, { prefix: '/ai', providers: { anthropic: { keys } } })`.
 */
export const aibridge = fp(plugin, { fastify: '5.x', name: '@aibridge/fastify' })
export default aibridge
