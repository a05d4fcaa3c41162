import { maskKey } from './mask.js'

/** Thrown by `createBridge` for a bad option; the message names the option and never holds a key. */
export class AibridgeOptionError extends Error {
  readonly code = 'AIBRIDGE_INVALID_OPTION'
  constructor(message: string) {
    super(`aibridge: ${message}`)
    this.name = 'AibridgeOptionError'
  }
}

/** Thrown by `resetKey` when no key or several keys match. */
export class AibridgeKeyNotFoundError extends Error {
  readonly code = 'AIBRIDGE_KEY_NOT_FOUND'
  constructor(message: string) {
    super(`aibridge: ${message}`)
    this.name = 'AibridgeKeyNotFoundError'
  }
}

/**
 * A value for an option error message. A string long enough to be a key (put in the wrong place) is
 * masked like a hint, never printed.
 */
export function describeOptionValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 16 ? `a ${value.length}-character string (${maskKey(value)})` : JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  return typeof value === 'function' ? 'a function' : Array.isArray(value) ? 'an array' : `a ${typeof value}`
}

/** An option or provider name for an error message: masked when it is long enough to be a key. */
export function describeOptionName(name: string): string {
  return name.length > 32 ? maskKey(name) : name
}
