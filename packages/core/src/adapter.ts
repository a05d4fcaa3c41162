import { AibridgeOptionError, describeOptionValue } from './errors.js'
import { originForm } from './path.js'
import { createBridge, type Bridge } from './bridge.js'
import type { BridgeOptions } from './options.js'

/**
 * True for a Bridge. Not `instanceof`: an app that loads core as ESM and an adapter as CJS (or two
 * copies of core) has two Bridge classes.
 */
export function isBridge(value: BridgeOptions | Bridge): value is Bridge {
  return typeof value === 'object' && value !== null && typeof (value as Bridge).dispatch === 'function'
}

/** An adapter's `prefix` option: `''` (the root) or a path starting with '/', without a trailing slash. */
export function mountPrefix(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value !== 'string' || (value !== '' && value[0] !== '/')) {
    throw new AibridgeOptionError(`prefix must be '' or a path starting with '/', got ${describeOptionValue(value)}`)
  }
  return value.replace(/\/+$/, '')
}

/**
 * The path below `prefix` (as given by `mountPrefix`), query included; undefined when the URL is not
 * under it. `caseSensitive: false` matches the prefix the way Express matches mount paths by default.
 */
export function pathBelow(target: string, prefix: string, caseSensitive = true): string | undefined {
  const url = originForm(target)
  if (prefix === '') return url
  const head = url.slice(0, prefix.length)
  if (caseSensitive ? head !== prefix : head.toLowerCase() !== prefix.toLowerCase()) return undefined
  const rest = url.slice(prefix.length)
  if (rest === '' || rest[0] === '?') return '/' + rest
  return rest[0] === '/' ? rest : undefined
}

/**
 * What to give `dispatch` as the body a host parser read: the raw bytes when the host kept them
 * (Express `verify` → `req.rawBody`, koa-bodyparser's `ctx.request.rawBody`), else the parsed value.
 */
export function hostBody(rawBody: unknown, parsedBody: unknown): unknown {
  return Buffer.isBuffer(rawBody) || typeof rawBody === 'string' ? rawBody : parsedBody
}

/**
 * What an adapter serves, from its arguments: `(options)` or `(options, { prefix })` creates a bridge
 * (a `prefix` inside the options, the Fastify habit, counts too), `(bridge)` or `(bridge, { prefix })`
 * shares one. Everything is validated before the bridge is created.
 */
export function adapterMount(optionsOrBridge: unknown, mount: unknown): { bridge: Bridge; prefix: string } {
  if (mount !== undefined && (typeof mount !== 'object' || mount === null || Array.isArray(mount))) {
    throw new AibridgeOptionError(`the second argument must be { prefix }, got ${describeOptionValue(mount)}: use aibridge(options, { prefix: '/ai' })`)
  }
  const given = (mount as { prefix?: unknown } | undefined)?.prefix
  if (isBridge(optionsOrBridge as BridgeOptions)) return { bridge: optionsOrBridge as Bridge, prefix: mountPrefix(given) }
  if (typeof optionsOrBridge !== 'object' || optionsOrBridge === null) {
    throw new AibridgeOptionError(`aibridge() takes bridge options or a Bridge, got ${describeOptionValue(optionsOrBridge)}`)
  }
  const { prefix: inline, ...bridgeOptions } = optionsOrBridge as BridgeOptions & { prefix?: unknown }
  if (inline !== undefined && given !== undefined && inline !== given) {
    throw new AibridgeOptionError(`prefix is given twice, as ${describeOptionValue(inline)} and ${describeOptionValue(given)}`)
  }
  const prefix = mountPrefix(given ?? inline)
  return { bridge: createBridge(bridgeOptions), prefix }
}
