import { AibridgeOptionError, describeOptionName, describeOptionValue } from './errors.js'
import { originForm } from './path.js'
import { createBridge, type Bridge } from './bridge.js'
import type { BridgeOptions } from './options.js'

/**
 * Helpers the framework adapters and store packages share (`@aibridge/core/adapter`): reading an adapter's arguments,
 * matching its prefix, and handing over a body a host parser read. Not part of the user-facing API.
 */

export type { BridgeResponse } from './respond.js'
export type { DispatchOptions } from './bridge.js'
export { describeOptionValue } from './errors.js'

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
 * Refuses a mount argument that is not `{ prefix }`: a typo (`{ prefx: '/ai' }`) must fail at setup,
 * not mount the bridge at the root. `extra` names options a framework itself reads there (Fastify's).
 */
export function checkMount(mount: unknown, extra: readonly string[] = []): void {
  if (mount === undefined) return
  if (typeof mount !== 'object' || mount === null || Array.isArray(mount)) {
    throw new AibridgeOptionError(`the second argument must be { prefix }, got ${describeOptionValue(mount)}: use aibridge(options, { prefix: '/ai' })`)
  }
  for (const name of Object.keys(mount)) {
    if (name === 'prefix' || extra.includes(name)) continue
    const near = name.toLowerCase().startsWith('pre') || name.toLowerCase().includes('fix') ? ' (did you mean prefix?)' : ''
    throw new AibridgeOptionError(`${describeOptionName(name)} is not a mount option${near}; the mount takes { prefix }`)
  }
}

/**
 * What an adapter serves, from its arguments: `(options)` or `(options, { prefix })` creates a bridge
 * (a `prefix` inside the options, the Fastify habit, counts too), `(bridge)` or `(bridge, { prefix })`
 * shares one. Everything is validated before the bridge is created.
 */
export function adapterMount(optionsOrBridge: unknown, mount: unknown): { bridge: Bridge; prefix: string } {
  checkMount(mount)
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
