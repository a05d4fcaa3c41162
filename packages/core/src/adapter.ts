import { AibridgeOptionError } from './errors.js'
import type { Bridge } from './bridge.js'
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
    throw new AibridgeOptionError(`prefix must be '' or a path starting with '/', got ${JSON.stringify(value)}`)
  }
  return value.replace(/\/+$/, '')
}
