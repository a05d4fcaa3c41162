import { AibridgeOptionError, type Logger } from '@aibridge/core'
import { describeOptionValue } from '@aibridge/core/adapter'
import type { Cluster, Redis } from 'ioredis'

export interface RedisStoreOptions {
  /**
   * A `redis://` or `rediss://` URL: the store opens its own connections and closes them on
   * `bridge.close()`. Give `url` or `client`, not both.
   */
  url?: string
  /**
   * An ioredis client or Cluster of the host's (Sentinel, TLS and auth as the host set them up). The
   * store opens one more connection from it (`duplicate()`) for pub/sub, closes only that one, and
   * never closes the client.
   */
  client?: Redis | Cluster
  /** The start of every Redis key and of the channel the store uses; several apps can share a Redis. @default 'aibridge:' */
  prefix?: string
  /** A pino-compatible logger for the one warning per Redis outage and the line when it ends. @default silent */
  logger?: Logger
  /** A Redis command slower than this counts as Redis being down (requests never wait for Redis either way). @default 200 */
  commandTimeoutMs?: number
  /**
   * The longest `ready()` (and so `bridge.ready()`) waits for the first load of the shared state;
   * past it the store serves from local state and keeps trying in the background. @default 2000
   */
  readyTimeoutMs?: number
}

export interface ResolvedStoreOptions {
  url: string | undefined
  client: Redis | Cluster | undefined
  prefix: string
  logger: Logger | undefined
  commandTimeoutMs: number
  readyTimeoutMs: number
}

const OPTIONS = new Set(['url', 'client', 'prefix', 'logger', 'commandTimeoutMs', 'readyTimeoutMs'])

function fail(message: string): never {
  throw new AibridgeOptionError(`redisStore: ${message}`)
}

function milliseconds(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2_147_483_647) {
    fail(`${name} must be a positive number of milliseconds (at most 2147483647), got ${describeOptionValue(value)}`)
  }
  return value
}

/** Validates options when the store is created, with messages that name the option. */
export function resolveStoreOptions(options: RedisStoreOptions): ResolvedStoreOptions {
  if (typeof options !== 'object' || options === null) fail(`options must be an object, got ${describeOptionValue(options)}`)
  for (const name of Object.keys(options)) if (!OPTIONS.has(name)) fail(`${name} is not an option (options: ${[...OPTIONS].join(', ')})`)
  const { url, client, prefix = 'aibridge:', logger } = options
  if ((url === undefined) === (client === undefined)) fail('give either url or client')
  if (url !== undefined) {
    if (typeof url !== 'string') fail(`url must be a string, got ${describeOptionValue(url)}`)
    let protocol: string
    try {
      protocol = new URL(url).protocol
    } catch {
      // Not echoed: a Redis URL may hold a password.
      fail('url is not a valid URL')
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') fail(`url must use redis: or rediss:, got ${protocol}`)
  }
  if (client !== undefined) {
    const c = client as unknown as Record<string, unknown>
    if (typeof c !== 'object' || c === null || typeof c.call !== 'function' || typeof c.duplicate !== 'function') {
      fail(`client must be an ioredis client or Cluster, got ${describeOptionValue(client)}`)
    }
  }
  if (typeof prefix !== 'string') fail(`prefix must be a string, got ${describeOptionValue(prefix)}`)
  // Redis Cluster hashes a key on its first {...}: the provider's tag, or one in the prefix (then every
  // provider shares that slot). An empty first tag makes it hash whole keys, scattering a provider's.
  const brace = prefix.indexOf('{')
  if (brace !== -1 && prefix[brace + 1] === '}') fail(`prefix must not start a hash tag with an empty {}, got ${describeOptionValue(prefix)}`)
  if (logger !== undefined) {
    const l = logger as unknown as Record<string, unknown>
    if (typeof l !== 'object' || l === null || ['debug', 'info', 'warn', 'error'].some((m) => typeof l[m] !== 'function')) {
      fail('logger must have debug, info, warn and error methods (pino-compatible)')
    }
  }
  return {
    url,
    client,
    prefix,
    logger,
    commandTimeoutMs: milliseconds(options.commandTimeoutMs, 'commandTimeoutMs', 200),
    readyTimeoutMs: milliseconds(options.readyTimeoutMs, 'readyTimeoutMs', 2000),
  }
}
