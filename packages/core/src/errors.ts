import { maskKey } from './mask.js'

/**
 * Every error aibridge throws at its caller: `code` is stable (`AIBRIDGE_OPTION`, `AIBRIDGE_ARGUMENT`,
 * `AIBRIDGE_KEY_NOT_FOUND`), and the message never holds a key.
 */
export class AibridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`aibridge: ${message}`)
    this.name = 'AibridgeError'
  }
}

/** A bad option, thrown where options are taken (`createBridge`, the adapters, `setKeys`); the message names the option. */
export class AibridgeOptionError extends AibridgeError {
  declare readonly code: 'AIBRIDGE_OPTION'
  constructor(message: string) {
    super('AIBRIDGE_OPTION', message)
    this.name = 'AibridgeOptionError'
  }
}

/** A method called with the wrong kind of argument (`resetKey(1, 2)`, `observe(null)`, `fetch('nope')`). */
export class AibridgeArgumentError extends AibridgeError {
  declare readonly code: 'AIBRIDGE_ARGUMENT'
  constructor(message: string) {
    super('AIBRIDGE_ARGUMENT', message)
    this.name = 'AibridgeArgumentError'
  }
}

/** Thrown by `resetKey` when no key or several keys match. */
export class AibridgeKeyNotFoundError extends AibridgeError {
  declare readonly code: 'AIBRIDGE_KEY_NOT_FOUND'
  constructor(message: string) {
    super('AIBRIDGE_KEY_NOT_FOUND', message)
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
