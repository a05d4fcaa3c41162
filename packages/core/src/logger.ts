/** The subset of a pino logger that aibridge calls. Any pino (or pino-compatible) logger fits. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const noop = (): void => {}

/** The default: aibridge is silent unless given a logger. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }

/**
 * The host's logger, called so that one that throws (a broken transport, a bad serializer) costs a
 * log line, never a request or a shutdown.
 */
export function safeLogger(logger: Logger | undefined): Logger {
  if (!logger) return silentLogger
  const call =
    (level: keyof Logger) =>
    (obj: object, msg?: string): void => {
      try {
        logger[level](obj, msg)
      } catch {
        // Nowhere left to report it.
      }
    }
  return { debug: call('debug'), info: call('info'), warn: call('warn'), error: call('error') }
}

/** A thrown value for a log line: its class and message, nothing else it may carry. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}
