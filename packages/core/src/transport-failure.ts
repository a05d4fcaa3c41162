import { errors as undiciErrors } from 'undici'

/**
 * The message of the 502 a client gets when no usable answer came from the provider: `what` went wrong
 * (by default, the provider could not be reached) and undici's error code. An error that means the
 * provider did answer, only not in HTTP, says that instead.
 */
export function transportFailureMessage(err: unknown, what: string): string {
  const code = (err as { code?: unknown } | null | undefined)?.code
  const shown = typeof code === 'string' ? ` (${code})` : ''
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return `the provider's response headers were larger than aibridge accepts${shown}`
  if (err instanceof undiciErrors.HTTPParserError) return `the provider sent an invalid response${shown}`
  // undici asserts what its parser let through, such as a status line under 100 (`HTTP/1.1 099`):
  // an internal assertion code would only mislead.
  if (code === 'ERR_ASSERTION') return 'the provider sent an invalid response'
  return `${what}${shown}`
}
