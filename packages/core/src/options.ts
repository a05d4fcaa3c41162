import type { IncomingMessage } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Authenticate } from './authenticate.js'
import { AibridgeOptionError, describeOptionName, describeOptionValue } from './errors.js'
import type { CooldownOptions, KeyEndpoint, KeyOrder, KeySpec } from './key-pool.js'
import { isHeaderValue, refusedExtraHeader } from './headers.js'
import type { KeyStateStore } from './key-store.js'
import type { Logger } from './logger.js'
import { dialects, isProviderType, providerTypes, type ProviderDialect, type ProviderType } from './providers/index.js'
import type { InterceptionRecord } from './record.js'

/**
 * Whether a request that carries its own provider credential uses it (BYOK).
 * `'auto'`: yes. `false`: never; the client's credential headers are removed and a pool key
 * injected (for hosts that authenticate their own clients with those headers). A function decides
 * per request; it is only asked when the request carries a credential.
 */
export type ByokMode = 'auto' | false | ((req: IncomingMessage, provider: string) => boolean)

/**
 * A key that lives at an endpoint of its own (an Azure OpenAI resource in its region, a regional
 * gateway) or needs headers of its own (the organization it belongs to). Failover replays the
 * request at the key's endpoint.
 */
export interface KeyOptions {
  /** The API key. Validated and masked like a plain key. */
  key: string
  /**
   * Origin and optional path prefix for this key's requests, with the provider's `baseURL` rules.
   * @default the provider's `baseURL`
   */
  baseURL?: string
  /**
   * Extra request headers for this key's attempts only (`OpenAI-Organization`, a tenant header). They
   * replace a client's header of the same name; credential, hop-by-hop and routing headers are refused.
   */
  headers?: Record<string, string>
}

export interface ProviderOptions {
  /**
   * The API dialect: `anthropic`, `openai` (and OpenAI-compatible APIs), `gemini` (Google's Gemini API)
   * or `azure` (Azure OpenAI). Inferred for a provider named after one of them; required otherwise.
   */
  type?: ProviderType
  /**
   * The pool, primary first: keys, or `{ key, baseURL?, headers? }` for a key at an endpoint of its
   * own. Empty makes a BYOK-only provider.
   */
  keys?: readonly (string | KeyOptions)[]
  /**
   * Upstream origin and optional path prefix. Required for `azure`, whose every resource has its own
   * endpoint (`https://{resource}.openai.azure.com`), unless every key brings its own `baseURL`.
   * @default the provider's public API
   */
  baseURL?: string
  /** Overrides the bridge-wide `byok` for this provider. */
  byok?: ByokMode
  /** Overrides the bridge-wide `keyOrder` for this provider. */
  keyOrder?: KeyOrder
  /**
   * OpenAI and Azure: add `stream_options: { include_usage: true }` to streaming Chat Completions
   * requests that do not set it, so their token usage reaches records and metrics. The client then
   * sees `"usage": null` on every chunk and one extra last chunk (before `data: [DONE]`) with
   * `"choices": []` and the usage; the official SDKs read it, a client that assumes every chunk has
   * `choices[0]` must skip it. @default false
   */
  includeStreamUsage?: boolean
  /**
   * Any undici Dispatcher to send this provider's requests through: an egress `ProxyAgent`, an `Agent`
   * with TLS settings, a `MockAgent` in tests. The bridge never closes it.
   * @default the bridge's own keep-alive pool per upstream origin
   */
  dispatcher?: Dispatcher
}

export interface TimeoutOptions {
  /** Opening a connection to the provider. @default 10_000 */
  connectMs?: number
  /** Waiting for the provider's response headers (a long completion starts late). @default 600_000 */
  headersMs?: number
  /** Longest silence between two body chunks. @default 300_000 */
  bodyIdleMs?: number
  /**
   * How long a pool key's streaming answer is held back while its first event is awaited (an error
   * there fails over like the status it stands for); after this, or 64 KiB, it goes to the client as
   * it is. @default 10_000
   */
  streamStartMs?: number
}

export interface CooldownDefaults {
  /** Cooldown for a 429 that names no wait in its headers. @default 60_000 */
  rateLimitMs?: number
  /** Cooldown for exhausted billing or quota (402, `insufficient_quota`, Anthropic's credit balance). @default 3_600_000 */
  quotaMs?: number
  /** When a key that failed authentication (401/403) is tried again. @default Infinity (until resetKey or restart) */
  authRecheckMs?: number
  /** The longest temporary cooldown, so one bogus reset header cannot take a key out for good. @default 86_400_000 (24 h) */
  maxMs?: number
}

export interface BridgeOptions {
  providers: Record<string, ProviderOptions>
  /** @default 'auto' */
  byok?: ByokMode
  /** Largest request body accepted, in bytes; larger gets 413 and no upstream call. @default 33_554_432 (32 MiB) */
  bodyLimit?: number
  timeouts?: TimeoutOptions
  cooldowns?: CooldownDefaults
  /** `ordered`: primary first. `round-robin`: each request starts at the next key. @default 'ordered' */
  keyOrder?: KeyOrder
  /** A pino-compatible logger. @default silent */
  logger?: Logger
  /** Where key state lives. @default a MemoryKeyStore (this process only) */
  store?: KeyStateStore
  /** Called once per handled request when it ends. Exceptions are logged, never thrown. */
  onInterception?: (record: InterceptionRecord) => void
  /**
   * Checks the host's own token on every request through the mount (not `bridge.fetch`). The token is
   * what the client sends as its provider API key (`x-api-key`, `Authorization: Bearer`, `api-key`),
   * or `x-aibridge-token` when its provider header carries its own provider key (BYOK). Return a
   * principal (`{ id }`, which goes into records and events), or null or false to refuse (401). May be
   * async; one that throws or rejects fails the request with a 500. @default none (no check)
   */
  authenticate?: Authenticate
}

export interface ResolvedProvider {
  name: string
  dialect: ProviderDialect
  /** Undefined for an Azure provider without a baseURL of its own: its keys each bring theirs, and BYOK has nowhere to go. */
  origin: string | undefined
  /** Base path without a trailing slash ('' for none). */
  basePath: string
  keys: KeySpec[]
  byok: ByokMode
  keyOrder: KeyOrder
  dispatcher: Dispatcher | undefined
  includeStreamUsage: boolean
}

export interface ResolvedOptions {
  providers: Map<string, ResolvedProvider>
  authenticate: Authenticate | undefined
  bodyLimit: number
  timeouts: Required<TimeoutOptions>
  cooldowns: CooldownOptions
}

export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024

const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/
// Keys travel in a header: anything outside visible ASCII could split or corrupt it.
const KEY_CHARS = /^[\x21-\x7e]+$/

function fail(message: string): never {
  throw new AibridgeOptionError(message)
}

/** Refuses names that are not options (a typo such as `baseUrl` would otherwise be ignored silently). */
function onlyKnown(value: object, known: readonly string[], at: string): void {
  for (const name of Object.keys(value)) {
    if (known.includes(name)) continue
    const near = known.find((k) => k.toLowerCase() === name.toLowerCase() || k.startsWith(name) || name.startsWith(k))
    fail(`${at}${describeOptionName(name)} is not an option${near ? ` (did you mean ${at}${near}?)` : ''}; known: ${known.join(', ')}`)
  }
}

function section(value: unknown, name: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${name} must be an object, got ${describeOptionValue(value)}`)
  onlyKnown(value, known, `${name}.`)
  return value as Record<string, unknown>
}

// setTimeout's limit: a longer delay fires at once (with a TimeoutOverflowWarning).
const MAX_TIMER_MS = 2 ** 31 - 1

function positive(value: unknown, name: string, fallback: number, unit = 'milliseconds'): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${name} must be a positive number of ${unit}, got ${describeOptionValue(value)}`)
  return value
}

/** A timeout run by a timer: positive and within what a timer can wait. */
function timer(value: unknown, name: string, fallback: number): number {
  const ms = positive(value, name, fallback)
  if (ms > MAX_TIMER_MS) fail(`${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a Node timer waits), got ${ms}`)
  return ms
}

/** A cooldown is a deadline, not a timer: Infinity is allowed where it means "until reset". */
function cooldown(value: unknown, name: string, fallback: number, allowInfinity = false): number {
  if (allowInfinity && value === Infinity) return value
  return positive(value, name, fallback, allowInfinity ? 'milliseconds or Infinity' : 'milliseconds')
}

function functions(value: unknown, name: string, methods: readonly string[], optional: readonly string[] = []): void {
  if (value === undefined) return
  if (typeof value !== 'object' || value === null) fail(`${name} must be an object with ${methods.join(', ')} methods, got ${describeOptionValue(value)}`)
  const missing = methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function')
  if (missing.length > 0) fail(`${name} must have ${methods.join(', ')} methods; missing or not a function: ${missing.join(', ')}`)
  const bad = optional.filter((m) => (value as Record<string, unknown>)[m] !== undefined && typeof (value as Record<string, unknown>)[m] !== 'function')
  if (bad.length > 0) fail(`${name}.${bad[0]} must be a function when given`)
}

function byokOption(value: unknown, name: string): ByokMode | undefined {
  if (value === undefined || value === 'auto' || value === false || typeof value === 'function') {
    return value as ByokMode | undefined
  }
  fail(`${name} must be 'auto', false or a function, got ${describeOptionValue(value)}`)
}

function keyOrderOption(value: unknown, name: string): KeyOrder | undefined {
  if (value === undefined || value === 'ordered' || value === 'round-robin') return value
  fail(`${name} must be 'ordered' or 'round-robin', got ${describeOptionValue(value)}`)
}

function streamUsageOption(value: unknown, name: string, type: string): boolean {
  if (value === undefined || value === false) return false
  if (value !== true) fail(`${name} must be true or false, got ${describeOptionValue(value)}`)
  if (type !== 'openai' && type !== 'azure') fail(`${name} applies to OpenAI Chat Completions (type 'openai' or 'azure'), not type '${type}'`)
  return true
}

function dispatcherOption(value: unknown, name: string): Dispatcher | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'object' && value !== null && typeof (value as Dispatcher).dispatch === 'function') return value as Dispatcher
  fail(`${name} must be an undici Dispatcher (an Agent, Pool, ProxyAgent or MockAgent), got ${describeOptionValue(value)}`)
}

/** What a key needs to know of its provider to be validated, at creation or when keys are replaced. */
export interface KeyContext {
  dialect: ProviderDialect
  /** The provider's own endpoint; undefined for an Azure provider whose keys each bring theirs. */
  origin: string | undefined
  basePath: string
}

const KEY_OPTIONS = ['key', 'baseURL', 'headers'] as const

/**
 * The one parser of a provider's `keys` (creation, and any later replacement of the pool): plain
 * strings, or `{ key, baseURL?, headers? }` for a key at an endpoint of its own. `at` is
 * `providers.{name}.keys`. Messages name the entry, never the key.
 */
export function resolveKeys(value: unknown, at: string, provider: KeyContext): KeySpec[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) fail(`${at} must be an array of keys (strings, or { key, baseURL?, headers? } objects)`)
  const seen = new Map<string, number>()
  return value.map((raw, i) => {
    const spec = resolveKey(raw, `${at}[${i}]`, provider)
    const first = seen.get(spec.secret)
    if (first !== undefined) fail(`${at}[${i}] duplicates ${at}[${first}]`)
    seen.set(spec.secret, i)
    return spec
  })
}

function resolveKey(raw: unknown, at: string, provider: KeyContext): KeySpec {
  if (typeof raw === 'string') {
    if (provider.origin === undefined) fail(`${at} has no baseURL, and the provider has none: give the provider a baseURL, or make the key { key, baseURL }`)
    return { secret: keyString(raw, at) }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${at} must be a string, or an object { key, baseURL?, headers? }`)
  onlyKnown(raw, KEY_OPTIONS, `${at}.`)
  const o = raw as Record<string, unknown>
  if (o.key === undefined) fail(`${at}.key is required`)
  if (typeof o.key !== 'string') fail(`${at}.key must be a string`)
  const spec: { secret: string; endpoint?: KeyEndpoint; headers?: Record<string, string> } = { secret: keyString(o.key, `${at}.key`) }
  if (o.baseURL !== undefined) {
    const endpoint = resolveBaseURL(o.baseURL, `${at}.baseURL`, provider.dialect)
    // The provider's own endpoint given again: the key takes the common path.
    if (endpoint.origin !== provider.origin || endpoint.basePath !== provider.basePath) spec.endpoint = endpoint
  } else if (provider.origin === undefined) {
    fail(`${at}.baseURL is required: the provider has no baseURL of its own`)
  }
  const headers = extraHeaders(o.headers, `${at}.headers`)
  if (headers) spec.headers = headers
  return spec
}

function keyString(raw: string, at: string): string {
  const key = raw.trim()
  if (key === '') fail(`${at} is empty`)
  if (!KEY_CHARS.test(key)) fail(`${at} contains whitespace or control characters`)
  return key
}

/** A key's extra headers, names lowercased (a client's header of the same name is replaced); undefined for none. */
function extraHeaders(value: unknown, at: string): Record<string, string> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${at} must be an object of header names and string values`)
  const out: Record<string, string> = {}
  let any = false
  for (const [name, v] of Object.entries(value)) {
    const shown = `${at}.${describeOptionName(name)}`
    const lower = name.toLowerCase()
    const refused = refusedExtraHeader(lower)
    if (refused) fail(`${shown} ${refused}`)
    if (Object.hasOwn(out, lower)) fail(`${shown} repeats a header name (names are case-insensitive)`)
    // Values are never echoed: a tenant or organization id may be as private as the key.
    if (typeof v !== 'string' || !isHeaderValue(v)) fail(`${shown} must be a non-empty string of visible ASCII characters (spaces and tabs inside only)`)
    out[lower] = v
    any = true
  }
  return any ? out : undefined
}

/** A provider's pool, at creation or from `setKeys`: `at` is `providers.{name}`. */
function poolKeys(value: unknown, at: string, byok: ByokMode, provider: KeyContext): KeySpec[] {
  const keys = resolveKeys(value, `${at}.keys`, provider)
  if (keys.length === 0 && byok === false) fail(`${at} has no keys and byok is false: no request could be served`)
  return keys
}

/** Validates the keys given to `setKeys` as creation validates `providers.{name}.keys`, with the same messages. */
export function resolveNewKeys(provider: ResolvedProvider, value: unknown): KeySpec[] {
  if (!Array.isArray(value)) fail(`setKeys: providers.${describeOptionName(provider.name)}.keys must be an array of keys, got ${describeOptionValue(value)}`)
  return poolKeys(value, `providers.${describeOptionName(provider.name)}`, provider.byok, provider)
}

/** A base URL: the provider's (`value` undefined takes the dialect's default) or a key's. */
function resolveBaseURL(value: unknown, at: string, dialect: ProviderDialect): KeyEndpoint {
  const raw = value ?? dialect.defaultBaseURL
  if (raw === undefined) {
    fail(`${at} is required for type '${dialect.type}': it has no shared endpoint (give your resource's, e.g. https://my-resource.openai.azure.com, or give every key its own)`)
  }
  if (typeof raw !== 'string') fail(`${at} must be a string URL, got ${describeOptionValue(raw)}`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    fail(`${at} is not a valid URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${at} must use http or https, got ${url.protocol}`)
  if (url.username || url.password) fail(`${at} must not contain credentials`)
  if (url.search || url.hash) fail(`${at} must not contain a query or fragment`)
  return { origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') }
}

function everyKeyHasBaseURL(keys: unknown): boolean {
  return Array.isArray(keys) && keys.length > 0 && keys.every((k: unknown) => typeof k === 'object' && k !== null && (k as { baseURL?: unknown }).baseURL !== undefined)
}

const TYPE_LIST = providerTypes.map((t) => `'${t}'`).join(', ')

const OPTIONS = ['providers', 'byok', 'bodyLimit', 'timeouts', 'cooldowns', 'keyOrder', 'logger', 'store', 'onInterception', 'authenticate'] as const
const PROVIDER_OPTIONS = ['type', 'keys', 'baseURL', 'byok', 'keyOrder', 'dispatcher', 'includeStreamUsage'] as const
const TIMEOUTS = ['connectMs', 'headersMs', 'bodyIdleMs', 'streamStartMs'] as const
const COOLDOWNS = ['rateLimitMs', 'quotaMs', 'authRecheckMs', 'maxMs'] as const

/** Validates options once, at creation, so the request path never meets a bad one. */
export function resolveOptions(options: BridgeOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('options must be an object')
  onlyKnown(options, OPTIONS, '')
  functions(options.logger, 'logger', ['debug', 'info', 'warn', 'error'])
  functions(options.store, 'store', ['get', 'mark', 'clear'], ['close', 'ready', 'useLogger'])
  if (options.onInterception !== undefined && typeof options.onInterception !== 'function') {
    fail(`onInterception must be a function, got ${describeOptionValue(options.onInterception)}`)
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    fail(`authenticate must be a function (token, req) => principal | null, got ${describeOptionValue(options.authenticate)}`)
  }
  const { providers } = options
  if (typeof providers !== 'object' || providers === null || Array.isArray(providers)) {
    fail('providers must be an object mapping provider names to their options')
  }
  const names = Object.keys(providers)
  if (names.length === 0) fail('providers is empty: configure at least one provider')

  const bridgeByok = byokOption(options.byok, 'byok') ?? 'auto'
  const bridgeOrder = keyOrderOption(options.keyOrder, 'keyOrder') ?? 'ordered'
  const resolved = new Map<string, ResolvedProvider>()
  for (const name of names) {
    const at = `providers.${describeOptionName(name)}`
    if (!PROVIDER_NAME.test(name)) fail(`${at}: provider names must be URL-safe (letters, digits, . _ ~ -)`)
    const p = providers[name]
    if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(`${at} must be an object`)
    onlyKnown(p, PROVIDER_OPTIONS, `${at}.`)
    const type: unknown = p.type ?? (isProviderType(name) ? name : undefined)
    if (type === undefined) fail(`${at}.type is required for a provider not named after its type (${TYPE_LIST})`)
    if (!isProviderType(type)) fail(`${at}.type must be one of ${TYPE_LIST}, got ${describeOptionValue(type)}`)
    const dialect = dialects[type]
    // Azure has no shared endpoint: the provider's baseURL may be left out when every key brings one.
    const base = p.baseURL === undefined && dialect.defaultBaseURL === undefined && everyKeyHasBaseURL(p.keys) ? undefined : resolveBaseURL(p.baseURL, `${at}.baseURL`, dialect)
    const endpoint: KeyContext = { dialect, origin: base?.origin, basePath: base?.basePath ?? '' }
    const byok = byokOption(p.byok, `${at}.byok`) ?? bridgeByok
    const keys = poolKeys(p.keys, at, byok, endpoint)
    resolved.set(name, {
      name,
      ...endpoint,
      keys,
      byok,
      keyOrder: keyOrderOption(p.keyOrder, `${at}.keyOrder`) ?? bridgeOrder,
      dispatcher: dispatcherOption(p.dispatcher, `${at}.dispatcher`),
      includeStreamUsage: streamUsageOption(p.includeStreamUsage, `${at}.includeStreamUsage`, type),
    })
  }

  const t = section(options.timeouts, 'timeouts', TIMEOUTS)
  const c = section(options.cooldowns, 'cooldowns', COOLDOWNS)
  return {
    providers: resolved,
    authenticate: options.authenticate,
    bodyLimit: positive(options.bodyLimit, 'bodyLimit', DEFAULT_BODY_LIMIT, 'bytes'),
    timeouts: {
      connectMs: timer(t.connectMs, 'timeouts.connectMs', 10_000),
      headersMs: timer(t.headersMs, 'timeouts.headersMs', 600_000),
      bodyIdleMs: timer(t.bodyIdleMs, 'timeouts.bodyIdleMs', 300_000),
      streamStartMs: timer(t.streamStartMs, 'timeouts.streamStartMs', 10_000),
    },
    cooldowns: {
      rateLimitMs: cooldown(c.rateLimitMs, 'cooldowns.rateLimitMs', 60_000),
      quotaMs: cooldown(c.quotaMs, 'cooldowns.quotaMs', 3_600_000),
      authRecheckMs: cooldown(c.authRecheckMs, 'cooldowns.authRecheckMs', Infinity, true),
      maxMs: cooldown(c.maxMs, 'cooldowns.maxMs', 86_400_000),
    },
  }
}
