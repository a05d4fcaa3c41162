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
